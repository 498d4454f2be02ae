package dev.vhostd.daemon;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;

/** What {@code --print-capabilities} reports (vhost-user.rst "Backend program conventions"). */
final class Capabilities {
    private Capabilities() {}

    record Json(@JsonProperty("type") String type, @JsonProperty("features") List<String> features) {}

    static String json() {
        try {
            return JsonMapping.mapper().writeValueAsString(new Json("block", List.of("read-only", "blk-file")));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot encode the capabilities", e);
        }
    }
}
