package dev.vhostd.protocol.virtq;

import java.util.Map;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The seed corpus means what its names say: each seed ends in the outcome its name promises. */
class ChainFuzzSeedsTest {
    @Test
    void seedsHaveTheirIntendedOutcome() {
        Map<String, ChainFuzzInput> seeds = ChainFuzzSeeds.seeds();
        for (Map.Entry<String, ChainFuzzInput> e : seeds.entrySet()) {
            String name = e.getKey();
            String expected = name.startsWith("valid") ? "ok"
                    : name.equals("head-out-of-range") || name.startsWith("avail-too-far-ahead") ? "broken" : "invalid";
            assertEquals(expected, ChainFuzzTest.outcome(ChainFuzzInput.parse(e.getValue().toBytes())), name);
        }
    }
}
