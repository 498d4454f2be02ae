package dev.vhostd.daemon.control;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.node.NullNode;

import dev.vhostd.daemon.JsonMapping;
import dev.vhostd.daemon.Version;
import dev.vhostd.daemon.disk.ConfigFile;
import dev.vhostd.daemon.disk.Disk;
import dev.vhostd.daemon.disk.DiskException;
import dev.vhostd.daemon.disk.DiskInfo;
import dev.vhostd.daemon.disk.DiskRegistry;
import dev.vhostd.daemon.disk.DiskSpec;

/**
 * The control methods: a table from method name to parameter record and handler. Each handler
 * works through the {@link DiskRegistry}; typed errors become JSON-RPC error codes here, at the edge.
 */
public final class ControlApi {
    private static final System.Logger LOG = System.getLogger("vhostd");

    /** What {@code daemon_get} reports. */
    public record DaemonInfo(
            @JsonProperty("version") String version,
            @JsonProperty("pid") long pid,
            @JsonProperty("uptime_seconds") long uptimeSeconds,
            @JsonProperty("pollers") int pollers,
            @JsonProperty("disks") int disks) {}

    /** What {@code disk_resize} returns. */
    public record Resized(@JsonProperty("name") String name, @JsonProperty("size") long size) {}

    /** What {@code config_save} returns. */
    public record Saved(@JsonProperty("path") String path, @JsonProperty("disks") int disks) {}

    private final ObjectMapper json = JsonMapping.mapper();
    private final DiskRegistry registry;
    private final Instant started = Instant.now();
    private final Map<String, ControlMethod<?>> methods = new LinkedHashMap<>();

    public ControlApi(DiskRegistry registry) {
        this.registry = registry;
        add(new ControlMethod<>("disk_add", Params.DiskAdd.class, p -> registry.add(p.spec()).info()));
        add(new ControlMethod<>("disk_remove", Params.DiskRemove.class, p -> {
            registry.remove(p.name(), p.forced());
            return Map.of("name", p.name(), "removed", true);
        }));
        add(new ControlMethod<>("disk_list", Params.None.class, p -> registry.list().stream().map(Disk::info).toList()));
        add(new ControlMethod<>("disk_get", Params.Name.class, p -> registry.get(p.name()).info()));
        add(new ControlMethod<>("disk_resize", Params.DiskResize.class,
                p -> new Resized(p.name(), registry.get(p.name()).resize(p.size() == null ? 0 : p.size()))));
        add(new ControlMethod<>("disk_set_limits", Params.DiskSetLimits.class, p -> {
            Disk d = registry.get(p.name());
            d.setLimits(p.applyTo(d.limits()));
            return d.info();
        }));
        add(new ControlMethod<>("daemon_get", Params.None.class, p -> new DaemonInfo(Version.get(),
                ProcessHandle.current().pid(), Duration.between(started, Instant.now()).toSeconds(),
                registry.runtime().pollers().pollers().size(), registry.size())));
        add(new ControlMethod<>("config_save", Params.ConfigSave.class, p -> {
            List<DiskSpec> specs = registry.specs();
            try {
                new ConfigFile(specs).write(Path.of(p.path()));
            } catch (IOException e) {
                throw new DiskException(DiskException.Reason.IO, "cannot write " + p.path() + ": " + e.getMessage(), e);
            }
            LOG.log(Level.INFO, "saved " + specs.size() + " disk(s) to " + p.path());
            return new Saved(p.path(), specs.size());
        }));
    }

    private void add(ControlMethod<?> m) {
        methods.put(m.name(), m);
    }

    public Set<String> methodNames() {
        return methods.keySet();
    }

    /** Decodes {@code params}, validates them and runs the method. */
    Object call(String method, JsonNode params) throws RpcError.Failure {
        ControlMethod<?> m = methods.get(method);
        if (m == null) {
            throw new RpcError.Failure(RpcError.METHOD_NOT_FOUND, "unknown method \"" + method + "\"; methods: "
                    + String.join(", ", methods.keySet()));
        }
        return invoke(m, params);
    }

    private <P extends Params> Object invoke(ControlMethod<P> m, JsonNode params) throws RpcError.Failure {
        if (params == null || params instanceof NullNode) {
            params = json.createObjectNode();
        }
        if (!params.isObject()) {
            throw new RpcError.Failure(RpcError.INVALID_PARAMS, m.name() + ": params must be an object of named"
                    + " parameters, such as {\"name\": \"disk1\"}");
        }
        P p;
        try {
            p = json.treeToValue(params, m.params());
        } catch (UnrecognizedPropertyException e) {
            Set<String> known = new TreeSet<>();
            e.getKnownPropertyIds().forEach(k -> known.add(String.valueOf(k)));
            throw new RpcError.Failure(RpcError.INVALID_PARAMS, m.name() + ": unknown parameter \""
                    + e.getPropertyName() + "\"" + (known.isEmpty() ? "; it takes none" : "; it takes " + String.join(", ", known)));
        } catch (JacksonException e) {
            throw new RpcError.Failure(RpcError.INVALID_PARAMS, m.name() + ": " + describe(e));
        } catch (IllegalArgumentException e) {
            throw new RpcError.Failure(RpcError.INVALID_PARAMS, m.name() + ": " + rootMessage(e));
        }
        try {
            p.validate();
            return m.handler().handle(p);
        } catch (DiskException e) {
            throw new RpcError.Failure(e.reason().code(), e.getMessage());
        } catch (Exception e) {
            LOG.log(Level.ERROR, "control method " + m.name() + " failed", e);
            throw new RpcError.Failure(RpcError.INTERNAL_ERROR, m.name() + " failed inside vhostd: " + e
                    + "; the daemon log has details");
        }
    }

    /** "parameter queues: expected an integer, got a string" rather than Jackson's class names. */
    private static String describe(JacksonException e) {
        String field = "";
        if (e instanceof com.fasterxml.jackson.databind.JsonMappingException jm && !jm.getPath().isEmpty()) {
            StringBuilder sb = new StringBuilder();
            for (var ref : jm.getPath()) {
                if (ref.getFieldName() != null) {
                    sb.append(sb.isEmpty() ? "" : ".").append(ref.getFieldName());
                }
            }
            field = sb.isEmpty() ? "" : "parameter " + sb + ": ";
        }
        Throwable cause = e.getCause();
        if (cause instanceof DiskException d) {
            return d.getMessage();
        }
        String msg = e.getOriginalMessage();
        int cut = msg.indexOf(" (through reference chain");
        return field + (cut > 0 ? msg.substring(0, cut) : msg);
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return t.getMessage();
    }
}
