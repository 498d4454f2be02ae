package dev.vhostd.daemon.control;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

import dev.vhostd.daemon.disk.DiskException;
import dev.vhostd.daemon.disk.DiskSpec;
import dev.vhostd.daemon.limits.Limits;

/**
 * The parameters of each control method, decoded strictly (an unknown parameter is an error) and
 * validated here, in one place, before a handler runs. {@code disk_add} takes a {@link DiskSpec}.
 */
sealed interface Params {
    /** Checks what the JSON types alone do not; throws {@link DiskException} (INVALID_PARAMS). */
    default void validate() {}

    /** {@code disk_list}, {@code daemon_get}: no parameters. */
    record None() implements Params {}

    /** {@code disk_add}: the parameters are the {@link DiskSpec} itself (the same object a config file lists). */
    record DiskAdd(DiskSpec spec) implements Params {
        @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
        public DiskAdd {
        }

        @Override
        public void validate() {
            spec.validate();
        }
    }

    /** {@code disk_get}. */
    record Name(@JsonProperty("name") String name) implements Params {
        @Override
        public void validate() {
            DiskSpec.requireName(name);
        }
    }

    /** {@code disk_remove}: refused while a front-end is attached unless force. */
    record DiskRemove(@JsonProperty("name") String name, @JsonProperty("force") Boolean force) implements Params {
        @Override
        public void validate() {
            DiskSpec.requireName(name);
        }

        boolean forced() {
            return force != null && force;
        }
    }

    /** {@code disk_resize}: grow to size bytes, or re-read the backend's size when absent. */
    record DiskResize(@JsonProperty("name") String name, @JsonProperty("size") Long size) implements Params {
        @Override
        public void validate() {
            DiskSpec.requireName(name);
            if (size != null && size <= 0) {
                throw new DiskException(DiskException.Reason.INVALID_PARAMS, "size must be a positive number of bytes,"
                        + " got " + size + "; omit it to re-read the backend's size");
            }
        }
    }

    /** {@code disk_set_limits}: each absent limit keeps its value; 0 removes a limit. */
    record DiskSetLimits(
            @JsonProperty("name") String name,
            @JsonProperty("iops") Long iops,
            @JsonProperty("read_iops") Long readIops,
            @JsonProperty("write_iops") Long writeIops,
            @JsonProperty("bps") Long bps,
            @JsonProperty("read_bps") Long readBps,
            @JsonProperty("write_bps") Long writeBps) implements Params {
        @Override
        public void validate() {
            DiskSpec.requireName(name);
            applyTo(Limits.NONE); // range checks
        }

        Limits applyTo(Limits current) {
            try {
                return new Limits(or(iops, current.iops()), or(readIops, current.readIops()),
                        or(writeIops, current.writeIops()), or(bps, current.bps()), or(readBps, current.readBps()),
                        or(writeBps, current.writeBps()));
            } catch (IllegalArgumentException e) {
                throw new DiskException(DiskException.Reason.INVALID_PARAMS, e.getMessage());
            }
        }

        private static long or(Long value, long current) {
            return value != null ? value : current;
        }
    }

    /** {@code config_save}: where to write the running disks as a {@code --config} file. */
    record ConfigSave(@JsonProperty("path") String path) implements Params {
        @Override
        public void validate() {
            if (path == null || path.isEmpty()) {
                throw new DiskException(DiskException.Reason.INVALID_PARAMS, "path is required: where to write the config file");
            }
            if (!path.startsWith("/")) {
                throw new DiskException(DiskException.Reason.INVALID_PARAMS, "path \"" + path
                        + "\" is relative; give an absolute path (the daemon's working directory is not the caller's)");
            }
        }
    }
}
