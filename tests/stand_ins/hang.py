"""Stand-in builder that never finishes, with a child process (like mpirun/parallel build workers).

Writes its own pid and its child's pid to the file named by HANG_PIDS_FILE, then waits forever.
With HANG_IGNORE_TERM=1 both ignore SIGTERM (like a builder stuck in CUDA), so only SIGKILL stops them.
"""
import os
import signal
import subprocess
import sys
import time

if os.environ.get("HANG_IGNORE_TERM") == "1":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # inherited by the child (ignored dispositions survive exec)
child = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(0.2)"])
path = os.environ["HANG_PIDS_FILE"]
with open(path + ".tmp", "w") as fh:
    fh.write(f"{os.getpid()} {child.pid}\n")
os.replace(path + ".tmp", path)
print("[stand-in] building… (forever)", flush=True)
while True:
    time.sleep(0.2)
