# Runs case_* functions of the named modules on the MicroPython unix port.
# Prints one line per case: `PASS module.case` or `FAIL module.case: reason`.
import sys

passed = 0
failed = 0
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
print('micropython cases: %d ok, %d bad' % (passed, failed))
