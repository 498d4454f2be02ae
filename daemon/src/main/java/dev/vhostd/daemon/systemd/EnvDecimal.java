package dev.vhostd.daemon.systemd;

/** Parses the plain decimals systemd puts in the environment (LISTEN_PID, WATCHDOG_USEC, ...). */
final class EnvDecimal {
    private EnvDecimal() {}

    /** A non-negative decimal of at most {@code maxDigits} digits (no sign, no spaces), or -1. */
    static long parse(String s, int maxDigits) {
        if (s.isEmpty() || s.length() > maxDigits) {
            return -1;
        }
        long v = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            v = v * 10 + (c - '0');
        }
        return v;
    }
}
