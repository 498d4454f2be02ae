package dev.vhostd.daemon.logging;

import java.util.logging.Level;

/** {@code --log-level}: the least severe record written. */
public enum LogLevel {
    ERROR(Level.SEVERE), WARN(Level.WARNING), INFO(Level.INFO), DEBUG(Level.FINE), TRACE(Level.FINEST);

    final Level julLevel;

    LogLevel(Level julLevel) {
        this.julLevel = julLevel;
    }
}
