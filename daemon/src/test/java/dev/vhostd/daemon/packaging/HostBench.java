package dev.vhostd.daemon.packaging;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A real vhost-user-blk front-end on the host: {@code vhostd bench --verify} from this build's jar
 * writes a pattern and checks every read through the socket, as QEMU would drive the disk.
 */
final class HostBench {
    private HostBench() {}

    /** Verified random reads and writes for a couple of seconds; returns the RESULT line's values. */
    static Map<String, String> verify(Path socket, List<String> runAs) {
        List<String> cmd = new ArrayList<>(runAs);
        cmd.addAll(List.of(Repo.java(), "--enable-native-access=ALL-UNNAMED", "-jar", Repo.jar().toString(),
                "bench", "--socket", socket.toString(), "--verify", "--rw", "randrw", "--queues", "1",
                "--depth", "16", "--size", "64M", "--seconds", "2", "--ramp", "1", "--ramp-max", "1"));
        Exec r = Exec.run(Duration.ofMinutes(3), cmd);
        Map<String, String> result = parse(r.output());
        if (r.exitCode() != 0 || !"0".equals(result.get("errors")) || !"0".equals(result.get("mismatches"))
                || Long.parseLong(result.getOrDefault("ops", "0")) == 0) {
            throw new AssertionError("verified I/O through " + socket + " failed: " + r.describe());
        }
        return result;
    }

    static Map<String, String> verify(Path socket) {
        return verify(socket, List.of());
    }

    static Map<String, String> parse(String output) {
        Map<String, String> values = new HashMap<>();
        output.lines().filter(l -> l.startsWith("RESULT ")).reduce((a, b) -> b).ifPresent(line -> {
            for (String kv : line.substring("RESULT ".length()).split(" ")) {
                int eq = kv.indexOf('=');
                if (eq > 0) {
                    values.put(kv.substring(0, eq), kv.substring(eq + 1));
                }
            }
        });
        return values;
    }
}
