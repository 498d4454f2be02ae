package dev.vhostd.daemon.logging;

/** {@code --log-format}: one line per record, as text for people and journald, or JSON for log shippers. */
public enum LogFormat {
    TEXT, JSON
}
