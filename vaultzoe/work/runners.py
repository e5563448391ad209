"""Runner: agent processes, detached in their own process group, logged, timed out, re-attachable.

API CONTRACT (fixed): ProcessRunner implements protocols.Runner.

    ProcessRunner().start(spec: RunSpec) -> RunState
        Writes spec.run_dir/{argv.json, pid, started}; the child runs via a small supervisor
        (`python -m vaultzoe.work.supervise RUN_DIR`) in a new session so it survives vaultzoe's exit and
        records exit.json {"exit_code", "ended", "timed_out"/"stopped"} when the agent ends; stdin is /dev/null;
        stdout+stderr go to run_dir/output.log (capped at spec.log_limit_bytes, rotated to output.1.log).
    poll(run_dir) -> RunState      from pid liveness + exit.json (works across vaultzoe restarts)
    stop(run_dir, reason) -> RunState   SIGTERM the process group, SIGKILL after a grace period
    enforce_timeout(run_dir) -> RunState
    tail(run_dir, max_bytes=4000) -> str    the end of the output log (decoded with errors="replace")
"""

from __future__ import annotations
