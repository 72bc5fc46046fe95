"""Desks working side by side (review findings): the wrong-PIN limit holds for parallel
attempts (the lockout check, the PIN's hash and its count under one lock:
pinguard.Guard.attempt), and a slower card push keeps the newer board version."""
import threading
import time

from edgectl.room import pinguard


def test_parallel_guesses_are_counted_one_by_one_and_the_rest_refused(tmp_path):
    site = tmp_path / 'site.yaml'
    site.write_text('')
    guard = pinguard.Guard(site)
    out = []

    def slow_wrong():
        time.sleep(0.05)            # as PBKDF2 takes its time
        return False

    def guess():
        out.append(pinguard.Guard(site).attempt('vault', 'mallory', slow_wrong)[0])
    threads = [threading.Thread(target=guess) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(out) == ['locked'] * 3 + ['wrong'] * guard.limit, out
    verdict, (left, what) = guard.attempt('vault', 'ann', lambda: True)
    assert verdict == 'locked' and what == 'zone vault' and left > 800, 'the right PIN is refused too meanwhile'
    assert (tmp_path / 'site.pinguard.json').stat().st_mode & 0o777 == 0o600


def test_a_slower_card_push_never_writes_back_an_older_board_version(tmp_path):
    """(review) Two desks push; the one that finishes last knew an older version of a board."""
    from edgectl.room import cards
    site = tmp_path / 'site.yaml'
    site.write_text('')
    slow = cards.CardDB(site)           # this desk read the list before the other pushed
    fast = cards.CardDB(site)
    fast.save()
    cards.save_boards(fast, {'door-1': 5})
    cards.save_boards(slow, {'door-1': 4, 'door-2': 4})
    assert cards.CardDB(site).d['boards'] == {'door-1': 5, 'door-2': 4}
