"""Who is acting and what they may touch: accounts, sign-in, web sessions, the audit trail and its signed anchors."""
