package dev.vhostd.daemon.disk;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonProperty;

import dev.vhostd.daemon.limits.Limits;

/** A disk as {@code disk_get} and {@code disk_list} show it. */
public record DiskInfo(
        @JsonProperty("name") String name,
        @JsonProperty("socket") String socket,
        @JsonProperty("backend") String backend,
        @JsonProperty("size") long size,
        @JsonProperty("block_size") int blockSize,
        @JsonProperty("read_only") boolean readOnly,
        @JsonProperty("connected") boolean connected,
        @JsonProperty("frontend_pid") Long frontendPid,
        @JsonProperty("features") List<String> features,
        @JsonProperty("protocol_features") List<String> protocolFeatures,
        @JsonProperty("queues") List<Queue> queues,
        @JsonProperty("limits") Limits limits) {

    /** One virtqueue: the ring size the front-end set (0 before it did) and requests in flight. */
    public record Queue(
            @JsonProperty("index") int index,
            @JsonProperty("size") int size,
            @JsonProperty("running") boolean running,
            @JsonProperty("in_flight") long inFlight) {}
}
