# Runs case_* functions of the named modules on the MicroPython unix port.
# Prints one line per case: `PASS module.case` or `FAIL module.case: reason`.
import gc
import sys

passed = 0
failed = 0
keep = set(sys.modules)
for modname in sys.argv[1:]:
    mod = __import__(modname)
    names = [n for n in dir(mod) if n.startswith('case_')]
    names.sort()
    for n in names:
        try:
            getattr(mod, n)()
            print('PASS %s.%s' % (modname, n))
            passed += 1
        except Exception as e:
            print('FAIL %s.%s: %s: %s' % (modname, n, type(e).__name__, e))
            failed += 1
    # unload the case module and what it pulled in, so one small heap runs them all
    del mod
    for k in list(sys.modules):
        if k not in keep:
            del sys.modules[k]
    gc.collect()
print('micropython cases: %d ok, %d bad' % (passed, failed))
