# Controller types by name, imported only when a config uses them (saves RAM).


def load(ctype):
    if ctype == 'door':
        from door import Door
        return Door
    if ctype == 'barrier':
        from barrier import Barrier
        return Barrier
    if ctype == 'pump':
        from pump import Pump
        return Pump
    if ctype == 'intercom':
        from intercom import Intercom
        return Intercom
    raise ImportError('controller type %s is not in this firmware' % ctype)
