"""Shelving kept in the site's journal (host/room/shelving.py, table `shelves`): two views on
one journal see each other's shelvings, a restart keeps them, one of the views ends a
shelving whose time is up (and only one journals it), a new raise is never hidden, and
`edgectl monitor` (Monitor, RoomView) sees a shelving made in the web."""
import io
import json

import pytest

from edgectl.core import proto
from edgectl.room import shelving
from edgectl.room.roomview import RoomView
from edgectl.room.shelving import Shelf
from edgectl.room.store import Store

KEY = ('lobby-1', 'front', 'door.forced')


@pytest.fixture
def journal(tmp_path):
    stores = []

    def open_one():
        s = Store(tmp_path / 'journal.sqlite3')
        stores.append(s)
        return s
    yield open_one
    for s in stores:
        s.close()


def unshelves(store):
    store.flush()
    return [(r['operator'], json.loads(r['detail'])['why']) for r in store.table('actions') if r['action'] == 'unshelve']


def test_two_views_share_a_shelving_and_a_restart_keeps_it(journal):
    now = [1000.0]
    a_store, b_store = journal(), journal()
    a = Shelf(a_store, clock=lambda: now[0])
    b = Shelf(b_store, clock=lambda: now[0])
    alarm = {'_since': 990.0, 'log': 3, 'seq': 7}
    a.shelve(KEY, alarm, 'ann', 600, 'contractor at the door')
    b.refresh(force=True)
    assert b.get(KEY)['by'] == 'ann' and b.get(KEY)['reason'] == 'contractor at the door'
    assert b.review({KEY: dict(alarm, _since=995.0)}) == [], 'another view received it later: the same raise'
    a_store.close()
    c = Shelf(journal(), clock=lambda: now[0])          # the web restarted
    c.refresh()
    assert c.get(KEY)['until'] == 1600.0
    now[0] = 1600.0                                      # time up: both views review, one ends it
    ended = b.review({KEY: alarm}) + c.review({KEY: alarm})
    assert ended == [KEY] and b.get(KEY) is None and c.get(KEY) is None
    assert unshelves(b_store) == [(None, 'expired')], 'journaled once'
    assert b_store.shelves() == {}


def test_a_new_raise_is_never_hidden_and_a_view_that_never_saw_it_leaves_it(journal):
    store = journal()
    web, late = Shelf(store), Shelf(store)
    web.shelve(KEY, {'log': 3, 'seq': 7}, 'ann', 600, 'sensor swap')
    late.refresh(force=True)
    assert late.review({}) == [] and late.get(KEY), 'a view that never saw the alarm does not end it'
    assert late.review({KEY: {'log': 3, 'seq': 9}}) == [KEY], 'raised again by the board: a new alarm'
    web.refresh(force=True)
    assert web.get(KEY) is None
    web.shelve(KEY, {'log': 3, 'seq': 9}, 'ann', 600, 'again')
    assert web.review({}) == [KEY], 'the view that saw it clear ends it'
    assert unshelves(store) == [(None, 'cleared'), (None, 'cleared')]


def test_an_old_view_does_not_end_a_newer_shelving_of_the_same_alarm(journal):
    now = [1000.0]
    store = journal()
    a, b = Shelf(store, clock=lambda: now[0]), Shelf(store, clock=lambda: now[0])
    alarm = {'log': 1, 'seq': 2}
    a.shelve(KEY, alarm, 'ann', 60, 'short')
    b.refresh(force=True)
    now[0] = 1030.0
    a.unshelve(KEY, 'ann')
    a.shelve(KEY, alarm, 'bob', 3600, 'long')           # b's copy is of the first one (stale)
    now[0] = 1061.0
    assert b.review({KEY: alarm}) == [], 'the first one was over already; the second is not b\'s to end'
    assert store.shelves()[KEY]['by'] == 'bob'
    b.refresh(force=True)
    assert b.get(KEY)['reason'] == 'long'


def test_without_a_journal_a_shelving_ends_with_its_view():
    acts = []

    class Journal:          # journals actions, keeps no shelvings (like a centre's PostgreSQL)
        def action(self, *a):
            acts.append(a)
    shelf = Shelf(Journal())
    shelf.shelve(KEY, {'seq': 1}, 'ann', 600, 'x')
    shelf.stop()
    assert shelf.get(KEY) is None and acts[-1][5]['why'] == 'stopped'


def test_the_monitor_and_its_screen_see_a_shelving_made_elsewhere(journal, monkeypatch):
    web = Shelf(journal())
    view = RoomView('web', None, 'bob', journal(), {}, None, out=io.StringIO(), size=(200, 50), keyboard=False)
    mon = view.mon
    ev = {'type': 'door.forced', 'sev': 'alarm', 'active': True, 'seq': 4, 'log': 1, 'ts': 1, 'ctrl': 'front'}
    mon.handle(proto.topics.evt('web', 'lobby-1', 'front'), json.dumps(ev).encode())
    assert KEY in mon.alarms
    web.shelve(KEY, mon.alarms[KEY], 'ann', 600, 'contractor at the door')
    monkeypatch.setattr(shelving, 'REFRESH_S', 0)
    mon.housekeep()
    assert KEY in mon.shelved, 'escalation skips it'
    text = '\n'.join(''.join(seg[0] for seg in row) for row in view.frame(200, 50)[0])
    assert 'SHELVED by ann' in text and 'contractor at the door' in text
    assert '0 unacknowledged' in text
    web.unshelve(KEY, 'ann')
    mon.housekeep()
    assert KEY not in mon.shelved
    text = '\n'.join(''.join(seg[0] for seg in row) for row in view.frame(200, 50)[0])
    assert 'SHELVED' not in text and '1 unacknowledged' in text
