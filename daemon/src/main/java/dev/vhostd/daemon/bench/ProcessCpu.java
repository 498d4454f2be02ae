package dev.vhostd.daemon.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * CPU time (user + system, all threads) of a process from /proc/PID/stat, fields 14 and 15
 * (proc(5)), in clock ticks of 1/100 s: USER_HZ is 100 on every Linux ABI this runs on.
 */
final class ProcessCpu {
    static final long NANOS_PER_TICK = 10_000_000L;

    private ProcessCpu() {}

    /** CPU nanoseconds used so far by {@code pid}, or -1 if it cannot be read (process gone, no permission). */
    static long nanos(long pid) {
        if (pid <= 0) {
            return -1;
        }
        try {
            return parseStat(Files.readString(Path.of("/proc", Long.toString(pid), "stat")));
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** Parses a /proc/PID/stat line; the command name may contain spaces and parentheses, so fields count from the last ')'. */
    static long parseStat(String stat) {
        int close = stat.lastIndexOf(')');
        if (close < 0) {
            throw new IllegalArgumentException("not a /proc/PID/stat line");
        }
        String[] f = stat.substring(close + 2).trim().split(" ");
        // f[0] is field 3 (state); utime is field 14, stime field 15.
        long utime = Long.parseLong(f[11]);
        long stime = Long.parseLong(f[12]);
        return Math.multiplyExact(Math.addExact(utime, stime), NANOS_PER_TICK);
    }
}
