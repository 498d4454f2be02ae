package dev.vhostd.protocol.virtq;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;

class EventIdxTest {
    /** needEvent(event, new, old): notify iff event lies in [old, new) modulo 2^16. */
    @ParameterizedTest(name = "event {0}, new {1}, old {2} -> {3}")
    @CsvSource({
            // plain cases
            "0, 1, 0, true",
            "0, 0, 0, false",
            "1, 1, 0, false",
            "4, 5, 0, true",
            "5, 5, 0, false",
            "3, 10, 4, false",
            "4, 10, 4, true",
            "9, 10, 4, true",
            "10, 10, 4, false",
            // across the wrap 65535 -> 0
            "65535, 0, 65535, true",
            "65535, 1, 65534, true",
            "65534, 1, 65535, false",
            "0, 1, 65535, true",
            "1, 1, 65535, false",
            "65533, 2, 65534, false",
            "65534, 2, 65534, true",
            "0, 2, 65534, true",
            "1, 2, 65534, true",
            "2, 2, 65534, false",
            // stale event far behind: no notification (the driver has not asked again)
            "100, 300, 200, false",
            // a full window of 65535 entries published at once
            "7, 6, 7, true",
            "6, 6, 7, false",
    })
    void vringNeedEvent(int event, int newIdx, int oldIdx, boolean expected) {
        assertEquals(expected, EventIdx.needEvent(event, newIdx, oldIdx));
    }
}
