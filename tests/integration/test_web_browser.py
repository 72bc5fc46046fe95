"""`edgectl web` in a real browser (Debian's headless Chromium through Selenium and
chromium-driver; nothing downloaded): an operator logs in, a door forced on a simulated
board (the firmware on the MicroPython VM, real mosquitto) pops up on the page within 2 s,
the operator acknowledges it from the pop-up, and the acknowledgement, under the logged-in
name, reaches the page and a separate control-room monitor at once. Screenshots go to
reports/web/."""
import shutil
import time
from pathlib import Path

import pytest

from edgectl.room.monitor import Monitor
from edgectl.sim.simio import SimIO
from webkit import PASSWORDS, Web

REPORTS = Path(__file__).resolve().parents[2] / 'reports' / 'web'


def _driver():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip('selenium is not installed (pip install -e ".[test]")')
    browser = shutil.which('chromium') or shutil.which('chromium-browser')
    driver = shutil.which('chromedriver')
    if not browser or not driver:
        pytest.skip('no chromium / chromedriver: tools/install.sh installs the Debian packages chromium and '
                    'chromium-driver (as root)')
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
                '--window-size=1280,900', '--autoplay-policy=no-user-gesture-required'):
        opts.add_argument(arg)
    opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})      # the page's script errors, checked at the end
    return webdriver.Chrome(service=Service(driver), options=opts)


def wait_js(drv, script, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = drv.execute_script(script)
        if v:
            return v
        time.sleep(0.02)
    return drv.execute_script(script)


@pytest.fixture
def browser():
    drv = _driver()
    yield drv
    drv.quit()


def test_log_in_see_a_forced_door_pop_up_within_2s_and_acknowledge_it(browser, make_board, broker, tmp_path):
    from selenium.webdriver.common.by import By
    web = Web(tmp_path, broker=broker)
    other = Monitor('web', operator='bob').attach(broker.endpoint())      # an `edgectl monitor` elsewhere
    try:
        board = make_board(web.site_file.read_text(), 'lobby-1', site_broker=True)
        io = SimIO(board.io_port)
        browser.get(web.url + '/')
        browser.find_element(By.ID, 'login-name').send_keys('ann')
        browser.find_element(By.ID, 'login-password').send_keys('not-her-password')
        browser.find_element(By.ID, 'login-button').click()
        assert wait_js(browser, "return document.getElementById('login-error').textContent", 5) == \
            'wrong operator name or password'
        browser.find_element(By.ID, 'login-password').clear()
        browser.find_element(By.ID, 'login-password').send_keys(PASSWORDS['ann'])
        browser.find_element(By.ID, 'login-button').click()
        assert wait_js(browser, "var g = document.querySelector('#plan g[data-device=\"lobby-1\"]');"
                                "return g && g.dataset.state === 'normal'", 15), \
            'the board online on the plan: ' + browser.execute_script("return document.body.innerText")
        assert browser.find_element(By.ID, 'sound-state').text == 'sound on', 'the login click allowed sound'
        REPORTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(REPORTS / 'plan.png'))

        t0 = time.monotonic()
        io.set('front.contact', 1)                       # the door opens while locked: forced
        assert wait_js(browser, "return document.querySelector('#alarms tr[data-key=\"lobby-1/front/door.forced\"]')"
                                " && !document.getElementById('popup').hidden"
                                " && document.querySelector('#popup-alarms [data-key=\"lobby-1/front/door.forced\"]')", 2.0), \
            'no pop-up of the forced door within 2 s'
        shown = time.monotonic() - t0
        assert browser.execute_script("return document.getElementById('popup').dataset.device") == 'lobby-1'
        assert wait_js(browser, "return document.body.dataset.sounding", 2) == 'alarm ', 'the alarm sounds'
        browser.save_screenshot(str(REPORTS / 'popup.png'))

        browser.find_element(By.CSS_SELECTOR, '#popup-alarms [data-key="lobby-1/front/door.forced"] button.ack').click()
        assert wait_js(browser, "var r = document.querySelector('#alarms tr[data-key=\"lobby-1/front/door.forced\"]');"
                                "return r && r.querySelector('.acked-by').textContent", 3).startswith('ann ')
        key = ('lobby-1', 'front', 'door.forced')
        assert other.wait_for(lambda r: key in other.acked, 3) is not None or key in other.acked
        assert other.acked[key]['by'] == 'ann', 'the monitor elsewhere sees who acknowledged'
        assert wait_js(browser, "return document.body.dataset.sounding === ''", 3), 'silent once acknowledged'
        errors = [e['message'] for e in browser.get_log('browser') if 'Uncaught' in e['message']]
        assert not errors, 'the page\'s script failed: %s' % errors
        print('forced door on the page %.0f ms after the input edge' % (shown * 1000))
    finally:
        other.detach()
        web.close()


def test_issue_a_card_from_the_cards_tab_and_report_it_lost(browser, tmp_path):
    """The card desk's tab: the form issues a card (the CLI's list), the row shows its
    reference and last digits only, `Lost` changes it; without keys the page says the push
    command."""
    from selenium.webdriver.common.by import By
    from edgectl.room import cards
    from webkit import site_text
    web = Web(tmp_path, text=site_text(reader=True))
    try:
        browser.get(web.url + '/')
        browser.find_element(By.ID, 'login-name').send_keys('bob')
        browser.find_element(By.ID, 'login-password').send_keys(PASSWORDS['bob'])
        browser.find_element(By.ID, 'login-button').click()
        assert wait_js(browser, "return !document.getElementById('app').hidden", 5)
        browser.find_element(By.CSS_SELECTOR, 'button[data-tab="cards"]').click()
        assert wait_js(browser, "return document.querySelector('.card-door[value=\"lobby-1/front\"]')", 5)
        browser.find_element(By.ID, 'card-number').send_keys('W26:7654321')
        browser.find_element(By.ID, 'card-holder').send_keys('Zhang Min')
        browser.find_element(By.ID, 'card-until').send_keys('2027-06-30')
        browser.find_element(By.CSS_SELECTOR, '.card-door[value="lobby-1/front"]').click()
        browser.find_element(By.ID, 'card-issue').click()
        ref = cards.CardDB(web.site_file).key('W26:7654321')[:8] if wait_js(
            browser, "return document.querySelector('#cards tbody tr')", 5) else None
        row = browser.find_element(By.CSS_SELECTOR, '#cards tr[data-ref="%s"]' % ref)
        assert '…4321' in row.text and 'Zhang Min' in row.text and 'lobby-1/front' in row.text
        assert '7654321' not in browser.find_element(By.ID, 'tab-cards').text, 'never the number'
        assert 'edgectl cards push --site' in browser.find_element(By.ID, 'message').text
        row.find_element(By.CSS_SELECTOR, 'button.lost').click()
        assert wait_js(browser, "var r = document.querySelector('#cards tr[data-ref=\"%s\"]');"
                                "return r && r.className === 'card-lost'" % ref, 5)
        REPORTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(REPORTS / 'cards.png'))
        web.store.flush()
        assert [(r['operator'], r['action']) for r in web.store.table('actions') if r['action'].startswith('card_')] == \
            [('bob', 'card_issue'), ('bob', 'card_lost')]
        errors = [e['message'] for e in browser.get_log('browser') if 'Uncaught' in e['message']]
        assert not errors, 'the page\'s script failed: %s' % errors
    finally:
        web.close()
