"""Ending the child processes edgectl runs (simulated boards, mosquitto, the rig)."""
import subprocess


def end(proc, grace=5.0):
    """Ask a child process to stop (SIGTERM); kill it if it has not within `grace` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
