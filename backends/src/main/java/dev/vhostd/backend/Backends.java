package dev.vhostd.backend;

import java.util.Locale;
import java.util.Objects;

/**
 * Opens a backend from an operator's URI: {@code file:PATH}, {@code memory:SIZE},
 * {@code null:SIZE[,latency=DURATION]} or {@code rbd:POOL/IMAGE[@SNAP][,options]} (see {@link RbdSpec}). Failures throw {@link BackendOpenException} with a message
 * saying what to do.
 */
public final class Backends {
    private static final String USAGE =
            "use file:PATH, memory:SIZE, null:SIZE[,latency=DURATION] or rbd:POOL/IMAGE[@SNAP][,conf=PATH,...]";

    private Backends() {}

    public static BlockBackend open(String uri, BackendOptions options) {
        Objects.requireNonNull(options, "options");
        if (uri == null || uri.isBlank()) {
            throw new BackendOpenException("no backend given; " + USAGE);
        }
        int colon = uri.indexOf(':');
        if (colon <= 0) {
            throw new BackendOpenException("backend '" + uri + "' names no kind; " + USAGE);
        }
        String scheme = uri.substring(0, colon).toLowerCase(Locale.ROOT);
        String rest = uri.substring(colon + 1);
        return switch (scheme) {
            case "file" -> {
                if (rest.isEmpty()) {
                    throw new BackendOpenException("file: needs a path, such as file:/var/lib/vhostd/disk.img");
                }
                yield FileBackend.open(rest, options);
            }
            case "memory" -> {
                noDirect(scheme, options);
                yield MemoryBackend.open(size(scheme, rest, options), blockSize(options), options.readOnly());
            }
            case "null" -> {
                noDirect(scheme, options);
                int comma = rest.indexOf(',');
                long latency = comma < 0 ? 0 : latency(rest.substring(comma + 1));
                String size = comma < 0 ? rest : rest.substring(0, comma);
                yield new NullBackend(size(scheme, size, options), blockSize(options), options.readOnly(), latency);
            }
            case "rbd" -> RbdBackend.open(rest, options);
            default -> throw new BackendOpenException("unknown backend '" + uri.substring(0, colon + 1) + "'; " + USAGE);
        };
    }

    /** "latency=50us": a duration in ns, us, ms or s, at most 10 s. */
    private static long latency(String option) {
        String hint = "; null: takes one option, latency=DURATION such as latency=50us (units ns, us, ms, s)";
        if (!option.startsWith("latency=")) {
            throw new BackendOpenException("unknown null: option '" + option + "'" + hint);
        }
        String v = option.substring("latency=".length()).strip().toLowerCase(Locale.ROOT);
        long unit;
        String digits;
        if (v.endsWith("ns")) {
            unit = 1;
            digits = v.substring(0, v.length() - 2);
        } else if (v.endsWith("us")) {
            unit = 1_000;
            digits = v.substring(0, v.length() - 2);
        } else if (v.endsWith("ms")) {
            unit = 1_000_000;
            digits = v.substring(0, v.length() - 2);
        } else if (v.endsWith("s")) {
            unit = 1_000_000_000;
            digits = v.substring(0, v.length() - 1);
        } else {
            throw new BackendOpenException("latency '" + v + "' has no unit" + hint);
        }
        long n;
        try {
            n = Long.parseLong(digits.strip());
        } catch (NumberFormatException e) {
            throw new BackendOpenException("latency '" + v + "' is not a whole number of a unit" + hint, e);
        }
        if (n < 0 || n > 10_000_000_000L / unit) {
            throw new BackendOpenException("latency '" + v + "' is out of range: 0 to 10 s");
        }
        return n * unit;
    }

    private static void noDirect(String scheme, BackendOptions options) {
        if (options.direct()) {
            throw new BackendOpenException("the direct option applies to file: backends only, not " + scheme + ":");
        }
    }

    private static int blockSize(BackendOptions options) {
        return options.logicalBlockSize() == 0 ? 512 : options.logicalBlockSize();
    }

    private static long size(String scheme, String text, BackendOptions options) {
        long size;
        if (text.isEmpty()) {
            if (options.size() == 0) {
                throw new BackendOpenException(scheme + ": needs a size, such as " + scheme + ":1G");
            }
            size = options.size();
        } else {
            try {
                size = Sizes.parse(text);
            } catch (IllegalArgumentException e) {
                throw new BackendOpenException(scheme + ":" + text + ": " + e.getMessage(), e);
            }
            if (options.size() != 0 && options.size() != size) {
                throw new BackendOpenException(scheme + ":" + text + " conflicts with --size "
                        + Sizes.format(options.size()) + "; give the size once");
            }
        }
        int bs = blockSize(options);
        if (size < bs) {
            throw new BackendOpenException(scheme + ":" + Sizes.format(size) + " is smaller than one block of " + bs
                    + " bytes");
        }
        if (size % bs != 0) {
            throw new BackendOpenException("size " + size + " of " + scheme + ": is not a multiple of the block size "
                    + bs + "; choose a size such as " + Sizes.format((size / bs + 1) * bs));
        }
        return size;
    }
}
