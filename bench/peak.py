"""Run a Python script or module (``peak.py script.py ARGS`` or ``peak.py -m module
ARGS``), then write its peak resident memory in MiB to the file named by
$BENCH_PEAK_FILE.

The peak is the process's own (VmHWM of /proc/self/status): ``ru_maxrss`` of a
child would count the memory of the parent that forked it.
"""

import atexit
import os
import resource
import runpy
import sys


def write_peak() -> None:
    try:
        with open('/proc/self/status') as status:
            kib = next(int(line.split()[1]) for line in status if line.startswith('VmHWM'))
    except (OSError, StopIteration):  # no /proc: macOS reports bytes
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (
            1024 if sys.platform == 'darwin' else 1)
    with open(os.environ['BENCH_PEAK_FILE'], 'w') as file:
        file.write(f'{kib / 1024:.1f}\n')


atexit.register(write_peak)
if sys.argv[1] == '-m':
    sys.argv = sys.argv[2:]
    runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)
else:
    sys.argv = sys.argv[1:]
    sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
    runpy.run_path(sys.argv[0], run_name='__main__')
