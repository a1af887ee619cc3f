"""The Splunk target: tuned searches, macros and lookups, and the Splunk app."""
