# Lift recall on the site's fire state (brief §16): while the site is in fire the recall
# relay sends the lifts to the ground floor and holds them there; the lift controller's
# `recalled` feedback says they arrived. Only the control room's fire reset releases it.
#
# States (LIFT_T): NORMAL (relay off), RECALLING (relay on, waiting for the feedback),
# RECALLED (feedback seen), OVERDUE (no feedback within recall_s: lift_recall.not_recalled
# alarm, until the feedback comes or the fire is reset). Any -> NORMAL on the fire reset.
# On a controller fault the relay takes fail_recall (default on: lifts cannot carry people
# towards a fire while the board cannot tell).
from compat import const
from clock import ticks_diff
from ctrl_base import Controller, SEV_INFO
import settings

NORMAL = const(0)
RECALLING = const(1)
RECALLED = const(2)
OVERDUE = const(3)
NAMES = ('normal', 'recalling', 'recalled', 'overdue')
LIFT_T = (
    (NORMAL, RECALLING), (RECALLING, RECALLED), (RECALLING, OVERDUE), (OVERDUE, RECALLED),
    (RECALLING, NORMAL), (RECALLED, NORMAL), (OVERDUE, NORMAL),
)


class LiftRecall(Controller):
    TYPE = 'lift_recall'
    FIRE_LINKED = True
    INPUTS = ('recalled',)
    OUTPUTS = ('recall',)

    @classmethod
    def safe_values(cls, cfg):
        return {'recall': 1 if settings.get(cfg, 'fail_recall', 'lift_recall') else 0}

    def __init__(self, name, cfg):
        Controller.__init__(self, name, cfg)
        self.recall_ms = int(self.num('recall_s') * 1000)
        self.st = NORMAL
        self.since = 0
        self.out('recall', 0)

    def _go(self, new, now):
        self.st = self.go(LIFT_T, self.st, new)
        if new == RECALLING:
            self.since = now          # recall_s and the recalled event's s count from here

    def site_fire(self, active, now):
        if active and self.st == NORMAL:
            self._go(RECALLING, now)
            self.out('recall', 1)
            self.emit('lift_recall.recalling', SEV_INFO)
            if self.value('recalled'):
                self._arrived(now)
        elif not active and self.st != NORMAL:
            if self.st == OVERDUE:
                self.alarm('lift_recall.not_recalled', False, {'reason': 'fire_reset'})
            self._go(NORMAL, now)
            self.out('recall', 0)
            self.emit('lift_recall.released', SEV_INFO)

    def on_input(self, sig, v, now):
        if v and self.st in (RECALLING, OVERDUE):
            self._arrived(now)

    def _arrived(self, now):
        if self.st == OVERDUE:
            self.alarm('lift_recall.not_recalled', False, {'reason': 'recalled'})
        self.emit('lift_recall.recalled', SEV_INFO, {'s': ticks_diff(now, self.since) // 1000})
        self._go(RECALLED, now)

    def on_tick(self, now):
        if self.st == RECALLING and ticks_diff(now, self.since) >= self.recall_ms:
            self._go(OVERDUE, now)
            self.alarm('lift_recall.not_recalled', True, {'recall_s': self.recall_ms // 1000})

    def state(self):
        return {'state': NAMES[self.st], 'recall': self.outputs.get('recall', 0),
                'recalled': self.value('recalled')}


CONTROLLER = LiftRecall
