package dev.vhostd.backend;

import java.util.Locale;
import java.util.Objects;

/**
 * Opens a backend from an operator's URI: {@code file:PATH}, {@code memory:SIZE} or
 * {@code null:SIZE}. Failures throw {@link BackendOpenException} with a message saying what to do.
 */
public final class Backends {
    private static final String USAGE = "use file:PATH, memory:SIZE or null:SIZE";

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
                yield new NullBackend(size(scheme, rest, options), blockSize(options), options.readOnly());
            }
            default -> throw new BackendOpenException("unknown backend '" + uri.substring(0, colon + 1) + "'; " + USAGE);
        };
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
