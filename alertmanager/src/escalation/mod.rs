//! Escalation policies with acknowledgement (filled in by the following commits).
