package dev.vhostd.daemon.systemd;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The rules of QEMU's docs/interop/vhost-user.json that apply to vhostd, as structural checks:
 * {@code VhostUserBackend} (the discovery file) and {@code VHostUserBackendCapabilities} for type
 * "block" (what --print-capabilities prints). Each check returns the list of violations.
 */
final class VhostUserSchema {
    /** VHostUserBackendType. */
    static final Set<String> TYPES = Set.of("9p", "balloon", "block", "caif", "console", "crypto", "gpu",
            "input", "net", "rng", "rpmsg", "rproc-serial", "scsi", "vsock", "fs");
    /** VHostUserBackendBlockFeature (since QEMU 5.0). */
    static final Set<String> BLOCK_FEATURES = Set.of("read-only", "blk-file");

    private VhostUserSchema() {}

    /** VhostUserBackend: description, type, binary required; tags optional; nothing else (QAPI struct). */
    static List<String> checkBackend(Object doc) {
        List<String> errors = new ArrayList<>();
        if (!(doc instanceof Map<?, ?> m)) {
            errors.add("root must be an object");
            return errors;
        }
        for (Object key : m.keySet()) {
            if (!Set.of("description", "type", "binary", "tags").contains(key)) {
                errors.add("unknown member '" + key + "'");
            }
        }
        requireString(m, "description", errors);
        String type = requireString(m, "type", errors);
        if (type != null && !TYPES.contains(type)) {
            errors.add("type '" + type + "' is not a VHostUserBackendType");
        }
        String binary = requireString(m, "binary", errors);
        if (binary != null && !binary.startsWith("/")) {
            errors.add("binary must be an absolute path, not '" + binary + "'");
        }
        if (m.containsKey("tags")) {
            if (!(m.get("tags") instanceof List<?> tags)) {
                errors.add("tags must be an array");
            } else {
                for (Object t : tags) {
                    if (!(t instanceof String)) {
                        errors.add("tags must hold strings, found " + t);
                    }
                }
            }
        }
        return errors;
    }

    /** VHostUserBackendCapabilities with type "block": {"type":"block","features":[...]}. */
    static List<String> checkBlockCapabilities(Object doc) {
        List<String> errors = new ArrayList<>();
        if (!(doc instanceof Map<?, ?> m)) {
            errors.add("root must be an object");
            return errors;
        }
        for (Object key : m.keySet()) {
            if (!Set.of("type", "features").contains(key)) {
                errors.add("unknown member '" + key + "'");
            }
        }
        if (!"block".equals(m.get("type"))) {
            errors.add("type must be \"block\", not " + m.get("type"));
        }
        if (!(m.get("features") instanceof List<?> features)) {
            errors.add("features must be an array");
            return errors;
        }
        for (Object f : features) {
            if (!(f instanceof String s) || !BLOCK_FEATURES.contains(s)) {
                errors.add("feature " + f + " is not a VHostUserBackendBlockFeature " + BLOCK_FEATURES);
            }
        }
        if (features.size() != Set.copyOf(features).size()) {
            errors.add("features repeat: " + features);
        }
        return errors;
    }

    private static String requireString(Map<?, ?> m, String key, List<String> errors) {
        Object v = m.get(key);
        if (!(v instanceof String s)) {
            errors.add(key + (v == null ? " is required" : " must be a string"));
            return null;
        }
        if (s.isEmpty()) {
            errors.add(key + " must not be empty");
        }
        return s;
    }
}
