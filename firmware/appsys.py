# What App does rarely, loaded for it and then dropped (config.once): commands for `system`
# (status, config, reboot) and config pushes.
import sys
import config
from ctrl_base import SEV_WARN, short


def command(self, op, args, cid=None):
    """A command for `system` on App self: (refusal or None, ack state or None)."""
    if op == 'cards':           # a signed delta of the card store (cardsync.py)
        return config.once('cardsync', 'command', self, args, cid)
    if op == 'status':     # (edgectl fleet status, ota push: heap, uptime, image kind, last update)
        s = self.status()
        s.update(self.tele())
        s['img'] = 'romfs' if '/rom' in sys.path else 'lib'
        try:
            s['ota'] = config.read_json('ota_last.json')
        except (OSError, ValueError):
            pass
        return None, s
    if op == 'reboot':
        self.log.short = 0     # an operator's reboot is not a crash: leaves safe mode
        self.log.save()
        self.reboot('soft')
        return None, None
    if op == 'config':
        return None, self.cfg      # what the board runs (`edgectl config pull`)
    if op == 'log':                # the log topic's level until the next boot (`edgectl logs`)
        lvl = args.get('level')
        if type(lvl) is not int or not 0 <= lvl <= 4:
            return 'log needs level=0..4 (0 none, 1 errors, 2 warnings, 3 info, 4 debug)', None
        self.blog.level = lvl
        return None, {'log_level': lvl}
    return "unknown op '%s' for system (ops: cards, config, log, reboot, status)" % op, None


def config_update(self, payload):
    """A `cfg` message (not empty): check it (signature, ranges), keep it beside the good
    config, reboot into a trial."""
    try:
        new = config.receive(payload, self.rev, self.key, self.site, self.device)
    except Exception as e:      # (a refused rev is remembered by config_push) a config that
        # cannot even be checked (out of heap, a bug) is refused all the same, and said
        rev = getattr(e, 'rev', None)
        self.event('system.config_rejected', SEV_WARN, {'rev': short(rev, 64) if rev else None, 'kept': self.rev,
                                                         'err': short(e if isinstance(e, config.ConfigError)
                                                                      else repr(e))})
        return
    if new is not None:
        config.stage(new)
        self.reboot('config')
