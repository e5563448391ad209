"""Agents: what argv to run for a prompt, and how to read what the agent reported.

API CONTRACT (fixed):

    make_agent(config: AgentConfig) -> protocols.Agent          table AGENT_KINDS = {"command": ..., "claude": ..., "codex": ...}
    CommandAgent: argv = config.command with {prompt_file} {workdir} {task_id} {attempt} substituted in each
        argument (+ config.args); env adds VAULTZOE_PROMPT_FILE and config.env; report() reads plain text
        (final_message = the last non-empty lines).
    ClaudeAgent / CodexAgent: real CLI invocations (issue 4); report() parses their JSON event streams.
"""

from __future__ import annotations
