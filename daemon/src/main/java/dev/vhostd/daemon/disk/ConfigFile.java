package dev.vhostd.daemon.disk;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JacksonException;

import dev.vhostd.daemon.JsonMapping;

/**
 * A {@code --config} file: {@code {"disks": [ ...disk_add parameters... ]}}, the same JSON the
 * control API speaks, so that {@code config_save} output can be read back and edited by hand.
 */
public record ConfigFile(@JsonProperty("disks") List<DiskSpec> disks) {
    public ConfigFile {
        disks = disks == null ? List.of() : List.copyOf(disks);
    }

    /** Reads and parses {@code path}; errors name the file and what is wrong in it. */
    public static ConfigFile read(Path path) throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new IOException("config file " + path + " does not exist");
        }
        try {
            return JsonMapping.mapper().readValue(bytes, ConfigFile.class);
        } catch (JacksonException e) {
            throw new IOException("config file " + path + " is not valid: " + e.getOriginalMessage()
                    + location(e) + "; it holds {\"disks\": [{\"name\": ..., \"socket\": ..., \"backend\": ...}]}");
        }
    }

    private static String location(JacksonException e) {
        return e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ", column "
                + e.getLocation().getColumnNr() + ")";
    }

    /** Writes the file atomically (a temporary file renamed over it), readable by owner and group. */
    public void write(Path path) throws IOException {
        Path dir = path.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(dir, "." + path.getFileName(), ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-r-----")));
        try {
            Files.write(tmp, JsonMapping.mapper().writerWithDefaultPrettyPrinter().writeValueAsBytes(this));
            try {
                Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
