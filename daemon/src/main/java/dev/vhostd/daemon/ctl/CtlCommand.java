package dev.vhostd.daemon.ctl;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.vhostd.backend.Sizes;
import dev.vhostd.daemon.JsonMapping;
import dev.vhostd.daemon.Version;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.ScopeType;

/**
 * {@code vhostd ctl}: the control API's client. Tables for people, {@code --json} (the method's
 * result as the daemon sent it) for scripts. Exit status 1 with the daemon's message on an error.
 */
@Command(name = "ctl", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "Manage a running 'vhostd serve --control PATH': add, list, show, resize, limit and remove disks.",
        subcommands = {CtlCommand.DiskCommand.class, CtlCommand.StatusCommand.class, CtlCommand.ConfigCommand.class})
public final class CtlCommand implements Runnable {
    /** Where {@code vhostd serve --control} puts the socket in the packaged service. */
    public static final String DEFAULT_CONTROL = "/run/vhostd/control.sock";

    @Option(names = "--control", paramLabel = "PATH", scope = ScopeType.INHERIT,
            description = "The daemon's control socket (default: $VHOSTD_CONTROL or " + DEFAULT_CONTROL + ").")
    Path control;

    @Option(names = "--json", scope = ScopeType.INHERIT, description = "Print the result as JSON, for scripts.")
    boolean json;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command: try 'vhostd ctl disk list'");
    }

    Path controlPath() {
        if (control != null) {
            return control.toAbsolutePath();
        }
        String env = System.getenv("VHOSTD_CONTROL");
        return Path.of(env != null && !env.isEmpty() ? env : DEFAULT_CONTROL);
    }

    /** Calls one method and prints its result: {@code table} for people, JSON with --json. */
    int call(String method, ObjectNode params, CommandLine cmd, java.util.function.BiConsumer<JsonNode, PrintWriter> table)
            throws IOException {
        boolean asJson = json || cmd.getParseResult().hasMatchedOption("--json");
        PrintWriter out = cmd.getOut();
        try (ControlClient client = new ControlClient(controlPath())) {
            JsonNode result = client.call(method, params);
            if (asJson) {
                out.println(JsonMapping.mapper().writeValueAsString(result));
            } else {
                table.accept(result, out);
            }
            out.flush();
            return 0;
        } catch (ControlClient.RemoteError e) {
            cmd.getErr().println("vhostd ctl: " + e.getMessage() + " (error " + e.code() + ")");
            return 1;
        }
    }

    static ObjectNode params() {
        return JsonMapping.mapper().createObjectNode();
    }

    // ---- disk ----

    @Command(name = "disk", mixinStandardHelpOptions = true, description = "Disks: add, list, show, resize, limit, remove.",
            subcommands = {DiskAdd.class, DiskList.class, DiskShow.class, DiskResize.class, DiskLimit.class, DiskRemove.class})
    static final class DiskCommand implements Runnable {
        @ParentCommand
        CtlCommand ctl;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            throw new CommandLine.ParameterException(spec.commandLine(), "missing command: add, list, show, resize, limit or remove");
        }
    }

    abstract static class DiskLeaf implements Callable<Integer> {
        @ParentCommand
        DiskCommand disk;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        CtlCommand ctl() {
            return disk.ctl;
        }
    }

    @Command(name = "add", mixinStandardHelpOptions = true, description = "Add a disk and start serving it.")
    static final class DiskAdd extends DiskLeaf {
        @Parameters(index = "0", paramLabel = "NAME", description = "Disk name: 1 to 64 of A-Z a-z 0-9 . _ -")
        String name;

        @Option(names = "--socket", required = true, paramLabel = "PATH", description = "vhost-user socket to create.")
        Path socket;

        @Option(names = "--backend", required = true, paramLabel = "URI", description = "file:PATH, memory:SIZE or null:SIZE.")
        String backend;

        @Option(names = "--queues", paramLabel = "N") Integer queues;
        @Option(names = "--queue-size", paramLabel = "N") Integer queueSize;
        @Option(names = "--read-only") boolean readOnly;
        @Option(names = "--serial", paramLabel = "ID") String serial;
        @Option(names = "--logical-block-size", paramLabel = "512|4096") Integer logicalBlockSize;
        @Option(names = "--direct") boolean direct;
        @Option(names = "--aio", paramLabel = "ENGINE") String aio;

        @Override
        public Integer call() throws IOException {
            ObjectNode p = params();
            p.put("name", name);
            // The daemon does not share our working directory: a relative path means ours.
            p.put("socket", socket.toAbsolutePath().normalize().toString());
            p.put("backend", backend);
            if (queues != null) {
                p.put("queues", queues);
            }
            if (queueSize != null) {
                p.put("queue_size", queueSize);
            }
            if (readOnly) {
                p.put("read_only", true);
            }
            if (serial != null) {
                p.put("serial", serial);
            }
            if (logicalBlockSize != null) {
                p.put("logical_block_size", logicalBlockSize);
            }
            if (direct) {
                p.put("direct", true);
            }
            if (aio != null) {
                p.put("aio", aio);
            }
            return ctl().call("disk_add", p, spec.commandLine(), Tables::disk);
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List the disks.")
    static final class DiskList extends DiskLeaf {
        @Override
        public Integer call() throws IOException {
            return ctl().call("disk_list", null, spec.commandLine(), Tables::diskList);
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one disk in detail.")
    static final class DiskShow extends DiskLeaf {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Override
        public Integer call() throws IOException {
            ObjectNode p = params();
            p.put("name", name);
            return ctl().call("disk_get", p, spec.commandLine(), Tables::disk);
        }
    }

    @Command(name = "resize", mixinStandardHelpOptions = true,
            description = "Grow a disk to SIZE (bytes, or 20G), or re-read the backend's size when SIZE is omitted.")
    static final class DiskResize extends DiskLeaf {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Parameters(index = "1", paramLabel = "SIZE", arity = "0..1")
        String size;

        @Override
        public Integer call() throws IOException {
            ObjectNode p = params();
            p.put("name", name);
            if (size != null) {
                p.put("size", Sizes.parse(size));
            }
            return ctl().call("disk_resize", p, spec.commandLine(),
                    (r, out) -> out.println(r.path("name").asText() + ": size " + Tables.bytes(r.path("size").asLong())));
        }
    }

    @Command(name = "limit", mixinStandardHelpOptions = true,
            description = "Set a disk's I/O limits (0 removes one; limits not given stay as they are).")
    static final class DiskLimit extends DiskLeaf {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Option(names = "--iops", paramLabel = "N") Long iops;
        @Option(names = "--read-iops", paramLabel = "N") Long readIops;
        @Option(names = "--write-iops", paramLabel = "N") Long writeIops;
        @Option(names = "--bps", paramLabel = "BYTES") String bps;
        @Option(names = "--read-bps", paramLabel = "BYTES") String readBps;
        @Option(names = "--write-bps", paramLabel = "BYTES") String writeBps;

        @Override
        public Integer call() throws IOException {
            ObjectNode p = params();
            p.put("name", name);
            putIf(p, "iops", iops);
            putIf(p, "read_iops", readIops);
            putIf(p, "write_iops", writeIops);
            putIf(p, "bps", bps == null ? null : Sizes.parse(bps));
            putIf(p, "read_bps", readBps == null ? null : Sizes.parse(readBps));
            putIf(p, "write_bps", writeBps == null ? null : Sizes.parse(writeBps));
            return ctl().call("disk_set_limits", p, spec.commandLine(), Tables::disk);
        }

        private static void putIf(ObjectNode p, String key, Long value) {
            if (value != null) {
                p.put(key, value);
            }
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true,
            description = "Remove a disk. Refused while a VM is attached unless --force (which cuts the VM off).")
    static final class DiskRemove extends DiskLeaf {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Option(names = "--force", description = "Disconnect an attached front-end (in-flight requests complete first).")
        boolean force;

        @Override
        public Integer call() throws IOException {
            ObjectNode p = params();
            p.put("name", name);
            if (force) {
                p.put("force", true);
            }
            return ctl().call("disk_remove", p, spec.commandLine(), (r, out) -> out.println("removed " + name));
        }
    }

    // ---- status, config ----

    @Command(name = "status", mixinStandardHelpOptions = true, description = "The daemon: version, uptime, pollers, disks.")
    static final class StatusCommand implements Callable<Integer> {
        @ParentCommand
        CtlCommand ctl;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws IOException {
            return ctl.call("daemon_get", null, spec.commandLine(), Tables::daemon);
        }
    }

    @Command(name = "config", mixinStandardHelpOptions = true, description = "The daemon's configuration.",
            subcommands = {ConfigSave.class})
    static final class ConfigCommand implements Runnable {
        @ParentCommand
        CtlCommand ctl;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            throw new CommandLine.ParameterException(spec.commandLine(), "missing command: save PATH");
        }
    }

    @Command(name = "save", mixinStandardHelpOptions = true,
            description = "Write the running disks to PATH (on the daemon's machine) as a file 'vhostd serve --config' reads.")
    static final class ConfigSave implements Callable<Integer> {
        @ParentCommand
        ConfigCommand config;

        @Parameters(index = "0", paramLabel = "PATH")
        Path path;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws IOException {
            ObjectNode p = params();
            p.put("path", path.toAbsolutePath().normalize().toString());
            return config.ctl.call("config_save", p, spec.commandLine(),
                    (r, out) -> out.println("saved " + r.path("disks").asInt() + " disk(s) to " + r.path("path").asText()));
        }
    }

    /** Human-readable renderings. */
    static final class Tables {
        private Tables() {}

        static void diskList(JsonNode disks, PrintWriter out) {
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"NAME", "SIZE", "CONNECTED", "PID", "QUEUES", "SOCKET", "BACKEND"});
            for (JsonNode d : disks) {
                rows.add(new String[] {d.path("name").asText(), bytes(d.path("size").asLong()),
                        d.path("connected").asBoolean() ? "yes" : "no",
                        d.path("frontend_pid").isNumber() ? d.path("frontend_pid").asText() : "-",
                        Integer.toString(d.path("queues").size()), d.path("socket").asText(), d.path("backend").asText()});
            }
            print(rows, out);
        }

        static void disk(JsonNode d, PrintWriter out) {
            out.println("name:       " + d.path("name").asText());
            out.println("socket:     " + d.path("socket").asText());
            out.println("backend:    " + d.path("backend").asText());
            out.println("size:       " + bytes(d.path("size").asLong()) + " (" + d.path("size").asLong() + " bytes, block size "
                    + d.path("block_size").asInt() + ")");
            out.println("read-only:  " + (d.path("read_only").asBoolean() ? "yes" : "no"));
            out.println("connected:  " + (d.path("connected").asBoolean()
                    ? "yes" + (d.path("frontend_pid").isNumber() ? " (pid " + d.path("frontend_pid").asText() + ")" : "")
                    : "no"));
            out.println("features:   " + join(d.path("features")));
            out.println("protocol:   " + join(d.path("protocol_features")));
            for (JsonNode q : d.path("queues")) {
                out.println("queue " + q.path("index").asInt() + ":    size " + q.path("size").asInt() + ", "
                        + (q.path("running").asBoolean() ? "running" : "stopped") + ", " + q.path("in_flight").asLong()
                        + " in flight");
            }
            JsonNode l = d.path("limits");
            List<String> limits = new ArrayList<>();
            l.fields().forEachRemaining(e -> {
                if (e.getValue().asLong() > 0) {
                    limits.add(e.getKey() + "=" + e.getValue().asLong());
                }
            });
            out.println("limits:     " + (limits.isEmpty() ? "none" : String.join(" ", limits)));
        }

        static void daemon(JsonNode d, PrintWriter out) {
            out.println("vhostd " + d.path("version").asText() + ", pid " + d.path("pid").asLong() + ", up "
                    + d.path("uptime_seconds").asLong() + " s, " + d.path("pollers").asInt() + " poller(s), "
                    + d.path("disks").asInt() + " disk(s)");
        }

        static String join(JsonNode names) {
            List<String> out = new ArrayList<>();
            names.forEach(n -> out.add(n.asText()));
            return out.isEmpty() ? "-" : String.join(" ", out);
        }

        static String bytes(long n) {
            String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
            double v = n;
            int u = 0;
            while (v >= 1024 && u < units.length - 1) {
                v /= 1024;
                u++;
            }
            return u == 0 ? n + " B" : String.format(Locale.ROOT, v == Math.rint(v) ? "%.0f %s" : "%.1f %s", v, units[u]);
        }

        private static void print(List<String[]> rows, PrintWriter out) {
            int[] w = new int[rows.get(0).length];
            for (String[] r : rows) {
                for (int i = 0; i < r.length; i++) {
                    w[i] = Math.max(w[i], r[i].length());
                }
            }
            for (String[] r : rows) {
                StringBuilder sb = new StringBuilder();
                for (int i = 0; i < r.length; i++) {
                    sb.append(i == r.length - 1 ? r[i] : String.format("%-" + w[i] + "s  ", r[i]));
                }
                out.println(sb.toString().stripTrailing());
            }
        }
    }
}
