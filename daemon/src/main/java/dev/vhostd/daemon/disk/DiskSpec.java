package dev.vhostd.daemon.disk;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.regex.Pattern;

import com.fasterxml.jackson.annotation.JsonProperty;

import dev.vhostd.backend.Aio;
import dev.vhostd.daemon.blk.BlkOptions;

/**
 * What a disk is made of: the parameters of {@code disk_add}, one entry of a {@code --config} file,
 * and what {@code config_save} writes. Absent optional fields take their defaults here, so a saved
 * file states every choice explicitly. {@link #validate()} checks everything that can be checked
 * without touching the file system.
 */
public record DiskSpec(
        @JsonProperty("name") String name,
        @JsonProperty("socket") String socket,
        @JsonProperty("backend") String backend,
        @JsonProperty("queues") Integer queues,
        @JsonProperty("queue_size") Integer queueSize,
        @JsonProperty("read_only") Boolean readOnly,
        @JsonProperty("serial") String serial,
        @JsonProperty("logical_block_size") Integer logicalBlockSize,
        @JsonProperty("direct") Boolean direct,
        @JsonProperty("aio") String aio) {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    /** sun_path holds 108 bytes including the terminating NUL (unix(7)). */
    static final int MAX_SOCKET_PATH_BYTES = 107;
    /** virtio-blk's GET_ID returns 20 bytes. */
    static final int MAX_SERIAL_BYTES = 20;

    public DiskSpec {
        queues = queues == null ? 1 : queues;
        queueSize = queueSize == null ? 1024 : queueSize;
        readOnly = readOnly != null && readOnly;
        serial = serial == null ? "" : serial;
        logicalBlockSize = logicalBlockSize == null ? 0 : logicalBlockSize;
        direct = direct != null && direct;
        aio = aio == null ? "auto" : aio;
    }

    /** Checks every field; throws {@link DiskException} with reason INVALID_PARAMS naming the field. */
    public DiskSpec validate() {
        requireName(name);
        if (socket == null || socket.isEmpty()) {
            throw DiskException.invalid("socket is required: the absolute path of the vhost-user socket to create");
        }
        if (!socket.startsWith("/")) {
            throw DiskException.invalid("socket \"" + socket + "\" is a relative path; give an absolute path"
                    + " (the daemon's working directory is not the caller's)");
        }
        if (socket.indexOf('\0') >= 0 || socket.getBytes(StandardCharsets.UTF_8).length > MAX_SOCKET_PATH_BYTES) {
            throw DiskException.invalid("socket path is longer than " + MAX_SOCKET_PATH_BYTES
                    + " bytes (the UNIX socket limit) or contains NUL; choose a shorter path");
        }
        if (backend == null || backend.isEmpty()) {
            throw DiskException.invalid("backend is required: file:PATH, memory:SIZE, null:SIZE or rbd:POOL/IMAGE");
        }
        try {
            new BlkOptions(queues, queueSize, serial, readOnly);
        } catch (IllegalArgumentException e) {
            throw DiskException.invalid(e.getMessage().replace("--queue-size", "queue_size").replace("--queues", "queues"));
        }
        if (logicalBlockSize != 0 && logicalBlockSize != 512 && logicalBlockSize != 4096) {
            throw DiskException.invalid("logical_block_size must be 512 or 4096 (or 0 to detect), got " + logicalBlockSize);
        }
        if (!StandardCharsets.US_ASCII.newEncoder().canEncode(serial) || serial.length() > MAX_SERIAL_BYTES) {
            throw DiskException.invalid("serial must be at most " + MAX_SERIAL_BYTES + " ASCII characters, got \""
                    + serial + "\"");
        }
        try {
            Aio.parse(aio);
        } catch (IllegalArgumentException e) {
            throw DiskException.invalid("aio: " + e.getMessage());
        }
        return this;
    }

    /** The socket as a normalized absolute path (two spellings of one file are the same socket). */
    public Path socketPath() {
        return Path.of(socket).toAbsolutePath().normalize();
    }

    public static String requireName(String name) {
        if (name == null) {
            throw DiskException.invalid("name is required: 1 to 64 characters from A-Z a-z 0-9 . _ -");
        }
        if (!NAME.matcher(name).matches()) {
            throw DiskException.invalid("invalid disk name \"" + name + "\": use 1 to 64 characters from A-Z a-z 0-9 . _ -");
        }
        return name;
    }

    public static boolean validName(String name) {
        return name != null && NAME.matcher(name).matches();
    }
}
