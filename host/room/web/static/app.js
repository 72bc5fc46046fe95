// The control room page of `edgectl web`: plain JavaScript, no build step, nothing from the
// internet. The server pushes the site's snapshot and the live log (server-sent events);
// every action is a POST with the session's CSRF token, done as the logged-in operator.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const LOG_MAX = 500;
  let csrf = null, operator = null, state = null, events = null;
  const seen = new Set();          // alarm key + since already popped up
  let popupDevice = null, shelveKey = null;

  // --- language: English, or Simplified Chinese (the site file's `lang`, else the browser's) --
  const ZH = {
    'edgectl control room': 'edgectl 控制室', 'Operator': '操作员', 'Password': '密码', 'Log in': '登录',
    'Alarms sound in this page. A browser plays sound only after one click: logging in with the button is that click (after a reload, click anywhere once).':
      '本页面会以声音提示报警。浏览器需要点击一次才能播放声音：点击登录按钮即可（刷新后请在页面任意处点击一次）。',
    'SITE FIRE STATE ACTIVE': '全站火警状态', 'Plan': '平面图', 'Alarms': '报警', 'Live log': '实时日志',
    'Journal': '日志查询', 'Plots': '图表', 'operator': '操作员', 'Log out': '退出',
    'click once to allow sound': '点击一次以允许声音', 'sound on': '声音已开启', 'reconnecting...': '正在重新连接…',
    'normal': '正常', 'alarm': '报警', 'acknowledged': '已确认', 'offline': '离线', 'fault': '故障', 'fire': '火警',
    'not heard yet': '尚未上线', 'unknown': '尚未上线', 'Active alarms': '当前报警', 'Shelved': '已搁置',
    'priority': '优先级', 'device': '设备', 'controller': '控制器', 'since': '开始时间', 'by': '操作人',
    'until': '截止', 'reason': '原因', 'time': '时间', 'event': '事件', 'severity': '级别', 'details': '详情',
    'received': '接收时间', 'type (door.*)': '类型 (door.*)', 'any severity': '任意级别',
    'since (-24h, 2026-11-28T18:00)': '起始 (-24h, 2026-11-28T18:00)', 'until': '截止', 'Search': '搜索',
    'Export CSV': '导出 CSV', 'Last events': '最近事件', 'For': '时长', '15 minutes': '15 分钟', '1 hour': '1 小时',
    '4 hours': '4 小时', '8 hours': '8 小时', 'Reason': '原因', 'Cancel': '取消', 'Shelve': '搁置',
    'Unshelve': '取消搁置', 'Acknowledge': '确认', 'Answer': '接听', 'Release the gate': '开门放行', 'Hang up': '挂断',
    'CALL': '呼叫', 'TALKING': '通话中', 'call': '呼叫', 'answered by': '接听人', 'state': '状态', 'on': '于',
    'shelved by': '搁置人', 'acknowledged by': '确认人', 'refused': '被拒绝', 'events': '条事件', 'site': '站点',
    'Open barrier': '抬杆', 'Close barrier': '落杆', 'Unlock door': '开门', 'Lock door': '锁门', 'stop': '停止',
    'Over the last': '最近', 'days': '天', 'Draw': '绘制', 'ALARM': '报警', 'cleared': '已恢复', 'sent': '已发送',
    'ESCALATED': '已升级', 'critical': '紧急', 'high': '高', 'medium': '中', 'low': '低', 'acknowledged ': '已确认 ', 'shelved ': '已搁置 ',
    'wrong operator name or password': '操作员名或密码错误', 'Operator actions': '操作记录', 'action': '操作',
    'actions': '条操作',
    'Cards': '门卡', 'Issue or change a card': '发卡或修改门卡', 'card number (1234567, W26:..., W34:...)': '卡号 (1234567, W26:..., W34:...)',
    'holder': '持卡人', 'valid from (2026-12-01)': '生效日期 (2026-12-01)', 'valid until (2027-01-01)': '失效日期 (2027-01-01)',
    'days (mon-fri)': '星期 (mon-fri)', 'hours (08:00-18:00)': '时段 (08:00-18:00)', 'uses (car park)': '次数 (停车场)',
    'Issue': '发卡', 'Push to the boards': '下发到控制器', 'reference': '编号', 'last digits': '末位数字', 'valid': '有效期',
    'doors': '门', 'door': '门', 'decision': '结果', 'card': '卡', 'Recent swipes': '最近刷卡', 'Revoke': '注销', 'Lost': '挂失',
    'Restore': '恢复', 'active': '有效', 'revoked': '已注销', 'lost': '已挂失', 'granted': '通过', 'denied': '拒绝',
    'A card is kept as a salted hash: the list shows its reference and last digits, never its number. Times are UTC. A card with a PIN is changed at the desk\'s terminal (edgectl cards issue --pin).':
      '门卡只以加盐哈希保存：列表只显示编号和末位数字，从不显示卡号。时间为 UTC。带密码的门卡请在前台终端修改 (edgectl cards issue --pin)。',
    'issued': '已发卡', 'version': '版本', 'boards up to date': '台控制器已更新', 'NOT updated': '未更新',
    'Saved. This web cannot sign card updates: send them with': '已保存。本网页无法签名门卡更新，请运行',
    'boards': '控制器', 'uses': '次数', 'PIN': '密码', 'cards': '张门卡',
  };
  let LANG = (navigator.languages && navigator.languages[0] || navigator.language || 'en').toLowerCase().startsWith('zh') ? 'zh' : 'en';
  const t = (s) => (LANG === 'zh' && ZH[s]) || s;
  function translatePage() {          // the page's own words (what the server pushes is translated as drawn)
    document.documentElement.lang = LANG === 'zh' ? 'zh-CN' : 'en';
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      const k = n.nodeValue.replace(/\s+/g, ' ').trim();
      if (k && ZH[k]) n.nodeValue = n.nodeValue.replace(n.nodeValue.trim(), t(k));
    }
    for (const i of document.querySelectorAll('[placeholder]')) i.placeholder = t(i.placeholder);
  }

  // --- sound: a browser plays sound only after a click on the page ------------------------
  let audio = null;
  function allowSound() {
    if (!audio) {
      try { audio = new (window.AudioContext || window.webkitAudioContext)(); } catch (e) { return; }
    }
    if (audio.state === 'suspended') audio.resume();
    const s = $('sound-state');
    s.textContent = t('sound on');
    s.className = 'sound-on';
  }
  document.addEventListener('click', allowSound);
  function tone(freq, start, len) {
    const o = audio.createOscillator(), g = audio.createGain();
    o.frequency.value = freq;
    o.type = 'square';
    g.gain.setValueAtTime(0.15, audio.currentTime + start);
    g.gain.setValueAtTime(0, audio.currentTime + start + len);
    o.connect(g); g.connect(audio.destination);
    o.start(audio.currentTime + start);
    o.stop(audio.currentTime + start + len + 0.05);
  }
  setInterval(function () {
    if (!state || !audio || audio.state !== 'running') return;
    const alarm = state.alarms.some((a) => !a.acked && !a.shelved);
    const ringing = state.calls.some((c) => c.state === 'ringing');
    document.body.dataset.sounding = (alarm ? 'alarm ' : '') + (ringing ? 'ring' : '');
    const escalated = state.alarms.some((a) => !a.acked && !a.shelved && a.escalated);
    if (escalated) { tone(988, 0, 0.15); tone(740, 0.18, 0.15); tone(988, 0.36, 0.15); tone(740, 0.54, 0.15); }
    else if (alarm) { tone(880, 0, 0.18); tone(660, 0.22, 0.18); }
    else if (ringing) { tone(440, 0, 0.4); tone(480, 0, 0.4); }
  }, 1200);

  // --- talking to the server -------------------------------------------------------------
  function say(msg) { $('message').textContent = msg || ''; }
  async function post(path, body) {
    const r = await fetch(path, {method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf || ''}, body: JSON.stringify(body || {})});
    const out = await r.json().catch(() => ({}));
    if (r.status === 401 && path !== '/api/login') { showLogin(); }
    if (!r.ok) throw new Error(out.error || ('HTTP ' + r.status));
    return out;
  }
  async function act(path, body, done) {
    try { const r = await post(path, body); say(done || ''); return r; }
    catch (e) { say(t('refused') + ': ' + t(e.message)); return null; }
  }
  const keyOf = (a) => a.key.join('/');
  const keyBody = (a) => ({device: a.key[0], ctrl: a.key[1], type: a.key[2]});
  const when = (t) => t ? new Date(t * 1000).toLocaleTimeString() : '';
  const whenFull = (t) => t ? new Date(t * 1000).toLocaleString() : '';
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      if (k === 'class') e.className = attrs[k];
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), attrs[k]);
      else e.setAttribute(k, attrs[k]);
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid instanceof Node ? kid : String(kid));
    return e;
  }
  const button = (label, fn, cls) => el('button', {class: cls || '', type: 'button', onclick: fn}, label);

  // --- log in and out ----------------------------------------------------------------------
  function showLogin() {
    if (events) { events.close(); events = null; }
    $('app').hidden = true;
    $('login').hidden = false;
  }
  async function start(me) {
    csrf = me.csrf; operator = me.operator;
    $('operator').textContent = operator;
    $('login').hidden = true;
    $('app').hidden = false;
    connect();
  }
  $('login-form').addEventListener('submit', async function (ev) {
    ev.preventDefault();
    allowSound();
    try {
      const me = await post('/api/login', {name: $('login-name').value, password: $('login-password').value});
      $('login-password').value = '';
      $('login-error').textContent = '';
      start(me);
    } catch (e) { $('login-error').textContent = t(e.message); }
  });
  $('logout').addEventListener('click', async function () {
    await act('/api/logout', {});
    csrf = null;
    showLogin();
  });

  // --- live pushes -------------------------------------------------------------------------
  function connect() {
    if (events) events.close();
    events = new EventSource('/api/events');
    events.addEventListener('state', (e) => { pending.state = e.data; soon(); });
    events.addEventListener('log', (e) => { pending.logs.push(e.data); soon(); });
    events.onopen = () => { $('link-state').textContent = ''; };
    events.onerror = async () => {
      $('link-state').textContent = t('reconnecting...');
      const r = await fetch('/api/me', {credentials: 'same-origin'}).catch(() => null);
      if (r && r.status === 401) showLogin();
    };
  }

  // pushes are drawn together at most every 20 ms: a burst of events is one redraw, not thousands
  const pending = {state: null, logs: [], timer: null};
  function soon() {
    if (!pending.timer) pending.timer = setTimeout(flush, 20);
  }
  function flush() {
    pending.timer = null;
    const logs = pending.logs.splice(0, pending.logs.length).slice(-LOG_MAX);
    for (const data of logs) addLog(JSON.parse(data));
    if (pending.state !== null) {
      const data = pending.state;
      pending.state = null;
      render(JSON.parse(data));
    }
  }

  // --- the snapshot ------------------------------------------------------------------------
  function render(s) {
    state = s;
    $('site-name').textContent = t('site') + ' ' + s.site;
    $('fire-banner').hidden = !s.fire;
    const open = s.alarms.filter((a) => !a.shelved);
    const unacked = open.filter((a) => !a.acked);
    $('alarm-count').textContent = unacked.length ? '(' + unacked.length + ')' : '';
    fetchPlanOnce();
    drawPlan();
    drawAlarms();
    drawCalls();
    for (const a of unacked) {          // a new alarm pops its device up
      const k = keyOf(a) + '@' + a.since;
      if (!seen.has(k)) { seen.add(k); openPopup(a.device); }
    }
    if (popupDevice) refreshPopup();
  }

  let plan = null, planAsked = false;
  async function fetchPlanOnce() {
    if (planAsked) return;
    planAsked = true;
    const r = await fetch('/api/state', {credentials: 'same-origin'});
    if (r.ok) { plan = (await r.json()).plan; drawPlan(); }
  }
  const NS = 'http://www.w3.org/2000/svg';
  const marks = new Map();           // device -> its mark on the plan (made once, then only recoloured)
  function drawPlan() {
    const svg = $('plan');
    if (!plan || !state) return;
    if (!svg.dataset.drawn) {          // the image once: redrawn per push it was fetched again each time
      svg.dataset.drawn = '1';
      svg.setAttribute('viewBox', '0 0 ' + plan.w + ' ' + plan.h);
      if (plan.image) {
        const img = document.createElementNS(NS, 'image');
        img.setAttribute('href', '/plan');
        img.setAttribute('x', 0); img.setAttribute('y', 0);
        img.setAttribute('width', plan.image_w); img.setAttribute('height', plan.image_h);
        svg.append(img);
      }
    }
    for (const d of state.devices) {
      let m = marks.get(d.id);
      if (!m) {
        const p = plan.devices[d.id] || {x: 40, y: 40};
        const g = document.createElementNS(NS, 'g');
        g.setAttribute('data-device', d.id);
        const c = document.createElementNS(NS, 'circle');
        c.setAttribute('cx', p.x); c.setAttribute('cy', p.y); c.setAttribute('r', 22);
        const name = document.createElementNS(NS, 'text');
        name.setAttribute('x', p.x); name.setAttribute('y', p.y + 42);
        name.textContent = d.id;
        const title = document.createElementNS(NS, 'title');
        g.append(c, name, title);
        g.addEventListener('click', () => openPopup(d.id));
        svg.append(g);
        m = {g: g, title: title};
        marks.set(d.id, m);
      }
      if (m.g.dataset.state !== d.state) {
        m.g.setAttribute('class', 'dev state-' + d.state);
        m.g.setAttribute('data-state', d.state);
        m.title.textContent = d.id + ': ' + t(d.state);
      }
    }
  }

  function prio(a) {
    const p = a.priority ? el('span', {class: 'prio-' + a.priority}, t(a.priority)) : '';
    if (!a.escalated && !a.count) return p;
    return el('span', {}, p, a.escalated ? el('b', {class: 'escalated'}, ' ' + t('ESCALATED')) : '',
      a.count ? ' \u00d7' + a.count : '');
  }
  function drawAlarms() {
    const body = $('alarms').tBodies[0], shelved = $('shelved').tBodies[0];
    body.textContent = ''; shelved.textContent = '';
    for (const a of state.alarms) {
      if (a.shelved) {
        shelved.append(el('tr', {'data-key': keyOf(a)}, el('td', {}, a.device), el('td', {}, a.ctrl + ' ' + a.type),
          el('td', {}, a.shelved.by), el('td', {}, when(a.shelved.until)), el('td', {}, a.shelved.reason),
          el('td', {}, button(t('Unshelve'), () => act('/api/unshelve', keyBody(a), t('Unshelve'))))));
        continue;
      }
      const row = el('tr', {'data-key': keyOf(a), class: a.acked ? 'acked' : 'unacked', 'data-shown': Date.now()},
        el('td', {}, prio(a)), el('td', {}, a.device), el('td', {}, a.ctrl), el('td', {}, a.type),
        el('td', {}, when(a.since)), el('td', {class: 'acked-by'}, a.acked ? a.acked.by + ' ' + when(a.acked.at) : ''),
        el('td', {}, a.acked ? '' : button(t('Acknowledge'), () => ack(a), 'ack'),
          button(t('Shelve'), () => askShelve(a), 'shelve')));
      body.append(row);
    }
  }
  function ack(a) { return act('/api/ack', keyBody(a), t('acknowledged ') + keyOf(a)); }
  function askShelve(a) {
    shelveKey = a;
    $('shelve-what').textContent = keyOf(a);
    $('shelve-reason').value = '';
    $('shelve-dialog').hidden = false;
  }
  $('shelve-form').addEventListener('submit', async function (ev) {
    ev.preventDefault();
    const r = await act('/api/shelve', Object.assign(keyBody(shelveKey),
      {minutes: Number($('shelve-minutes').value), reason: $('shelve-reason').value}), t('shelved ') + keyOf(shelveKey));
    if (r) $('shelve-dialog').hidden = true;
  });
  $('shelve-cancel').addEventListener('click', () => { $('shelve-dialog').hidden = true; });

  function callButtons(c) {
    const cmd = (op) => () => act('/api/command', {device: c.device, ctrl: c.station, op: op}, op + ' ' + t('sent'));
    const out = [];
    if (c.state === 'ringing') out.push(button(t('Answer'), cmd('answer'), 'answer'));
    if (c.state === 'answered' && c.by === operator) out.push(button(t('Release the gate'), cmd('unlock'), 'release'));
    out.push(button(t('Hang up'), cmd('hangup'), 'hangup'));
    return out;
  }
  function drawCalls() {
    const box = $('calls');
    box.textContent = '';
    for (const c of state.calls) {
      box.append(el('div', {class: 'call ' + c.state, 'data-call': c.device + '/' + c.station},
        el('b', {}, t(c.state === 'ringing' ? 'CALL' : 'TALKING')),
        c.device + '/' + c.station + ' ' + t('call') + ' ' + c.call + (c.by ? ' ' + t('answered by') + ' ' + c.by : '') + ' ' + t('since') + ' ' + when(c.since),
        ...callButtons(c)));
    }
  }

  // --- a device's pop-up -------------------------------------------------------------------
  async function openPopup(dev) {
    popupDevice = dev;
    $('popup').hidden = false;
    $('popup').dataset.device = dev;
    await refreshPopup();
  }
  async function refreshPopup() {
    const dev = popupDevice;
    const r = await fetch('/api/device?id=' + encodeURIComponent(dev), {credentials: 'same-origin'});
    if (!r.ok || dev !== popupDevice) return;
    const d = await r.json();
    const first = d.ctrls.map((c) => c.type).join(', ');
    $('popup-title').textContent = d.id + (first ? ' (' + first + ')' : '');
    $('popup-state').textContent = t('state') + ': ' + t(d.state);
    $('popup-state').className = 'state-' + d.state;
    const al = $('popup-alarms');
    al.textContent = '';
    for (const a of d.alarms) {
      al.append(el('p', {'data-key': keyOf(a)}, prio(a), ' ', el('b', {}, a.type), ' ' + t('on') + ' ' + a.ctrl + ' ' + t('since') + ' ' + whenFull(a.since),
        a.shelved ? ' (' + t('shelved by') + ' ' + a.shelved.by + ')' : '',
        a.acked ? ' ' + t('acknowledged by') + ' ' + a.acked.by : button(t('Acknowledge'), () => ack(a), 'ack')));
    }
    const acts = $('popup-actions');
    acts.textContent = '';
    for (const c of d.ctrls) {
      if (c.type === 'intercom') {
        for (const call of d.calls.filter((x) => x.station === c.name)) acts.append(...callButtons(call));
        continue;
      }
      for (const op of c.actions) {
        const label = t({open: 'Open barrier', close: 'Close barrier', unlock: 'Unlock door', lock: 'Lock door'}[op] || op);
        acts.append(button(label + ' (' + c.name + ')', () => act('/api/command', {device: d.id, ctrl: c.name, op: op},
          op + ' ' + t('sent') + ': ' + d.id + '/' + c.name), 'cmd-' + op));
      }
    }
    const cam = $('popup-camera');
    if (d.camera && cam.dataset.device !== d.id) {     // a fresh snapshot when the pop-up opens, not per push
      cam.src = d.camera + (d.camera.includes('?') ? '&' : '?') + 't=' + Date.now();
      cam.hidden = false;
    } else if (!d.camera) { cam.hidden = true; cam.removeAttribute('src'); }
    cam.dataset.device = d.id;
    const ul = $('popup-events');
    ul.textContent = '';
    for (const e of d.events) ul.append(el('li', {}, when(e.t) + ' ' + e.ctrl + ' ' + (e.msg.type || e.kind) +
      (e.msg.sev === 'alarm' ? (e.msg.active ? ' ALARM' : ' cleared') : '')));
  }
  function closePopup() {
    $('popup').hidden = true;
    popupDevice = null;
    delete $('popup-camera').dataset.device;
  }
  $('popup-close').addEventListener('click', closePopup);
  document.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Escape') return;
    if (!$('shelve-dialog').hidden) $('shelve-dialog').hidden = true;
    else closePopup();
  });

  // --- the live log, with filters ----------------------------------------------------------
  function matches(e) {
    const dev = $('log-device').value.trim(), type = $('log-type').value.trim(), sev = $('log-sev').value;
    const m = e.msg || {};
    if (dev && e.device !== dev) return false;
    if (sev && m.sev !== sev) return false;
    if (type) {
      const re = new RegExp('^' + type.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*') + '$');
      if (!re.test(m.type || e.kind)) return false;
    }
    return true;
  }
  const logRows = [];
  function addLog(e) {
    swipeSeen(e);
    if (e.kind === 'ack' && e.msg && e.msg.ok === false) say('refused by ' + e.device + '/' + e.ctrl + ': ' + e.msg.err);
    const m = e.msg || {};
    const skip = ['seq', 'log', 'ts', 'type', 'sev', 'ctrl', 'active', '_since'];
    const extra = e.kind === 'note' ? '' :
      Object.keys(m).filter((k) => !skip.includes(k)).map((k) => k + '=' + JSON.stringify(m[k])).join(' ');
    const label = e.kind === 'evt' ? (m.type + (m.sev === 'alarm' ? ' ' + t(m.active ? 'ALARM' : 'cleared') : ''))
      : e.kind === 'note' ? m.text : e.kind;
    const row = el('tr', {class: 'sev-' + (m.sev || e.kind)}, el('td', {}, when(e.t)), el('td', {}, e.device),
      el('td', {}, e.ctrl || ''), el('td', {}, label), el('td', {}, m.sev || ''), el('td', {}, extra));
    row.hidden = !matches(e);
    logRows.push([e, row]);
    const body = $('log').tBodies[0];
    body.insertBefore(row, body.firstChild);
    if (logRows.length > LOG_MAX) logRows.shift()[1].remove();
  }
  for (const id of ['log-device', 'log-type', 'log-sev']) {
    $(id).addEventListener('input', () => { for (const [e, row] of logRows) row.hidden = !matches(e); });
  }

  // --- the journal ---------------------------------------------------------------------------
  function journalQuery() {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData($('journal-form'))) if (v) q.set(k, v);
    return q;
  }
  function csvLink() {
    const q = journalQuery(); q.set('format', 'csv'); $('journal-csv').href = '/api/journal?' + q;
  }
  $('journal-form').addEventListener('input', csvLink);
  csvLink();
  $('journal-form').addEventListener('submit', async function (ev) {
    ev.preventDefault();
    const r = await fetch('/api/journal?' + journalQuery(), {credentials: 'same-origin'});
    const rows = await r.json();
    if (!r.ok) { say(rows.error); return; }
    const body = $('journal').tBodies[0];
    body.textContent = '';
    for (const e of rows) {
      const extra = Object.keys(e).filter((k) => !['device', 'received', 'seq', 'ts', 'type', 'sev', 'ctrl', 'log'].includes(k))
        .map((k) => k + '=' + JSON.stringify(e[k])).join(' ');
      body.append(el('tr', {class: 'sev-' + e.sev}, el('td', {}, whenFull(e.received)), el('td', {}, e.device),
        el('td', {}, e.seq), el('td', {}, e.ctrl), el('td', {}, e.type), el('td', {}, e.sev), el('td', {}, extra)));
    }
    say(rows.length + ' ' + t('events'));
  });

  $('actions-button').addEventListener('click', async function () {     // who did what, newest first
    const q = journalQuery();
    q.delete('device'); q.delete('type'); q.delete('sev');
    const r = await fetch('/api/actions?' + q, {credentials: 'same-origin'});
    const rows = await r.json();
    if (!r.ok) { say(rows.error); return; }
    const body = $('actions').tBodies[0];
    body.textContent = '';
    for (const a of rows) {
      body.append(el('tr', {}, el('td', {}, whenFull(a.at)), el('td', {}, a.operator || ''), el('td', {}, a.action),
        el('td', {}, [a.device, a.ctrl, a.type].filter((x) => x).join(' ')),
        el('td', {}, Object.keys(a.detail).map((k) => k + '=' + JSON.stringify(a.detail[k])).join(' '))));
    }
    $('actions').hidden = false;
    say(rows.length + ' ' + t('actions'));
  });

  // --- plots (SVG drawn by the server from the journal) ------------------------------------
  const PLOTS = ['alarms-per-day', 'alarms-per-device', 'time-to-ack', 'barrier-cycles', 'pump-hours'];
  function drawPlots() {
    const box = $('plots');
    box.textContent = '';
    for (const name of PLOTS) {
      box.append(el('img', {class: 'plot', alt: name, 'data-plot': name,
        src: '/api/plot?name=' + name + '&days=' + $('plots-days').value + '&t=' + Date.now()}));
    }
  }
  $('plots-form').addEventListener('submit', (ev) => { ev.preventDefault(); drawPlots(); });

  // --- the card desk (the same list and checks as `edgectl cards`) ---------------------------
  const day = (t) => t ? new Date(t * 1000).toISOString().slice(0, 10) : '';
  let cardsShown = false, swipesTimer = null;
  function pushNote(r) {          // what the boards took of a change (or the command that sends it)
    if (r.push === 'needed') return t('Saved. This web cannot sign card updates: send them with') + ' ' + r.command;
    const ok = Object.keys(r.pushed || {}), bad = Object.keys(r.failed || {});
    return ok.length + ' ' + t('boards up to date') +
      bad.map((d) => '; ' + d + ' ' + t('NOT updated') + ': ' + r.failed[d]).join('');
  }
  async function loadCards() {
    const r = await fetch('/api/cards', {credentials: 'same-origin'});
    const d = await r.json();
    if (!r.ok) { say(d.error); return; }
    $('card-version').textContent = '(' + d.cards.length + ' ' + t('cards') + ', ' + t('version') + ' ' + d.version + ')';
    const doors = $('card-doors');
    if (doors.dataset.readers !== d.readers.join(',')) {
      doors.dataset.readers = d.readers.join(',');
      doors.textContent = '';
      for (const name of d.readers) {
        doors.append(el('label', {}, el('input', {type: 'checkbox', value: name, class: 'card-door'}), ' ' + name));
      }
    }
    const body = $('cards').tBodies[0];
    body.textContent = '';
    for (const c of d.cards) {
      const change = (what) => async () => {
        const r = await act_('/api/cards/' + what, {ref: c.ref});
        if (r) { say(t(r.state) + ' \u2026' + r.last + ' ' + (r.holder || '') + ' \u2014 ' + pushNote(r)); loadCards(); }
      };
      const valid = (c.from || c.until) ? day(c.from) + '..' + day(c.until) : '';
      const extra = (c.uses !== null ? ' ' + t('uses') + ' ' + c.uses : '') + (c.pin ? ' +' + t('PIN') : '');
      body.append(el('tr', {'data-ref': c.ref, class: 'card-' + c.state}, el('td', {class: 'ref'}, c.ref),
        el('td', {}, '\u2026' + c.last), el('td', {}, c.holder || ''), el('td', {class: 'state'}, t(c.state)),
        el('td', {}, valid + extra), el('td', {}, c.doors.concat(c.groups.map((g) => '#' + g)).join(', ')),
        el('td', {}, c.state === 'active' ? button(t('Revoke'), change('revoke'), 'revoke') : button(t('Restore'), change('restore'), 'restore'),
          c.state === 'active' ? button(t('Lost'), change('lost'), 'lost') : '')));
    }
    $('card-push-note').textContent = d.can_push ? '' :
      t('Saved. This web cannot sign card updates: send them with') + ' ' + d.push_command;
    loadSwipes();
  }
  async function loadSwipes() {
    const r = await fetch('/api/swipes?limit=100', {credentials: 'same-origin'});
    const rows = await r.json();
    if (!r.ok) return;
    const body = $('swipes').tBodies[0];
    body.textContent = '';
    for (const s of rows) {
      body.append(el('tr', {class: 'swipe-' + s.decision}, el('td', {}, whenFull(s.t)), el('td', {}, s.device + '/' + s.ctrl),
        el('td', {}, t(s.decision)), el('td', {}, s.reason || s.by || ''),
        el('td', {}, s.last ? '\u2026' + s.last : (s.ref || '')), el('td', {}, s.holder || '')));
    }
  }
  async function act_(path, body) {       // like act(), the answer kept for its push result
    try { return await post(path, body); } catch (e) { say(t('refused') + ': ' + t(e.message)); return null; }
  }
  $('card-form').addEventListener('submit', async function (ev) {
    ev.preventDefault();
    const v = (id) => $(id).value.trim() || null;
    const body = {card: v('card-number'), holder: v('card-holder'), from: v('card-from'), until: v('card-until'),
      days: v('card-days'), hours: v('card-hours'), uses: v('card-uses') === null ? null : Number(v('card-uses')),
      doors: Array.from(document.querySelectorAll('.card-door:checked')).map((i) => i.value)};
    const r = await act_('/api/cards/issue', body);
    if (!r) return;
    say(t('issued') + ' \u2026' + r.last + ' ' + r.holder + ' \u2014 ' + pushNote(r));
    $('card-number').value = '';
    loadCards();
  });
  $('card-push').addEventListener('click', async function () {
    const r = await act_('/api/cards/push', {});
    if (r) { say(pushNote(r)); loadCards(); }
  });
  function swipeSeen(e) {         // a swipe in the live log: the tab's list again, once a burst is over
    if (!cardsShown || e.kind !== 'evt' || !String((e.msg || {}).type).startsWith('access.')) return;
    clearTimeout(swipesTimer);
    swipesTimer = setTimeout(loadSwipes, 300);
  }

  // --- tabs --------------------------------------------------------------------------------
  for (const b of document.querySelectorAll('.tab')) {
    b.addEventListener('click', () => {
      for (const x of document.querySelectorAll('.tab')) x.classList.toggle('active', x === b);
      for (const p of document.querySelectorAll('.panel')) p.hidden = p.id !== 'tab-' + b.dataset.tab;
      if (b.dataset.tab === 'plots') drawPlots();
      cardsShown = b.dataset.tab === 'cards';
      if (cardsShown) loadCards();
    });
  }

  // --- start: logged in already (a reload), or the login form --------------------------------
  fetch('/api/config').then((r) => r.json()).then((c) => { if (c.lang) LANG = c.lang; }, () => null).then(() => {
    translatePage();
    csvLink();
  });
  fetch('/api/me', {credentials: 'same-origin'}).then(async (r) => {
    if (r.ok) start(await r.json()); else showLogin();
  }, showLogin);
})();
