package dev.vhostd.protocol.wire;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import dev.vhostd.protocol.testing.OpenFds;
import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.OwnedFd;

import static dev.vhostd.protocol.testing.RequestBytes.*;
import static org.junit.jupiter.api.Assertions.*;

class MessageDecoderTest {
    private static final int FLAGS = flags(false);
    private static final Message.MemoryRegion REGION = new Message.MemoryRegion(0x1000, 0x10000, 0x7f0000000000L, 0);

    private final List<OwnedFd> created = new ArrayList<>();

    @AfterEach
    void closeCreated() {
        created.forEach(OwnedFd::close);
    }

    private List<OwnedFd> eventfds(int n) {
        List<OwnedFd> fds = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            OwnedFd fd = new OwnedFd(EventFd.create());
            created.add(fd);
            fds.add(fd);
        }
        return fds;
    }

    private static Message decode(Request r, byte[] payload, List<OwnedFd> fds) {
        return MessageDecoder.decode(r.code, FLAGS, ByteBuffer.wrap(payload), fds);
    }

    private static Message decode(Request r, byte[] payload) {
        return decode(r, payload, List.of());
    }

    /** Asserts a non-fatal rejection whose message contains {@code text}, and that every fd got closed. */
    private static VhostUserException rejected(Request r, byte[] payload, List<OwnedFd> fds, String text) {
        int[] raw = fds.stream().mapToInt(OwnedFd::fd).toArray();
        VhostUserException e = assertThrows(VhostUserException.class, () -> decode(r, payload, fds));
        assertFalse(e.fatal(), e.getMessage());
        assertTrue(e.getMessage().contains(text), e.getMessage());
        assertTrue(e.getMessage().contains(r.name()), e.getMessage());
        assertAllClosed(fds, raw);
        return e;
    }

    private static void assertAllClosed(List<OwnedFd> fds, int[] raw) {
        for (int i = 0; i < raw.length; i++) {
            assertFalse(fds.get(i).isOpen(), "OwnedFd still open");
            assertTrue(OpenFds.isClosed(raw[i]), "fd " + raw[i] + " still open in the kernel");
        }
    }

    // --- header flags ---

    @ParameterizedTest
    @ValueSource(ints = {0, 2, 3, 1 | 0x4, 1 | 0x10, 1 | 0x80000000})
    void badFlagsAreFatalAndCloseFds(int flags) {
        List<OwnedFd> fds = eventfds(2);
        int[] raw = fds.stream().mapToInt(OwnedFd::fd).toArray();
        VhostUserException e = assertThrows(VhostUserException.class,
                () -> MessageDecoder.decode(Request.SET_FEATURES.code, flags, ByteBuffer.wrap(u64(1)), fds));
        assertTrue(e.fatal());
        assertTrue(e.getMessage().contains("flags"), e.getMessage());
        assertAllClosed(fds, raw);
    }

    @Test
    void needReplyFlagIsAccepted() {
        Message m = MessageDecoder.decode(Request.SET_OWNER.code, flags(true), ByteBuffer.wrap(none()), List.of());
        assertInstanceOf(Message.SetOwner.class, m);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 19, 20, 26, 33, 35, 39, 40, 63, 64, 1000, -1})
    void unknownCodesAreRejectedNonFatallyAndCloseFds(int code) {
        List<OwnedFd> fds = eventfds(1);
        int raw = fds.getFirst().fd();
        VhostUserException e = assertThrows(VhostUserException.class,
                () -> MessageDecoder.decode(code, FLAGS, ByteBuffer.wrap(u64(5)), fds));
        assertFalse(e.fatal());
        assertTrue(e.getMessage().contains("not supported"), e.getMessage());
        assertTrue(OpenFds.isClosed(raw));
    }

    // --- payload-less and u64 requests ---

    @ParameterizedTest
    @EnumSource(value = Request.class, names = {"GET_FEATURES", "SET_OWNER", "RESET_OWNER", "GET_PROTOCOL_FEATURES",
            "GET_QUEUE_NUM", "RESET_DEVICE", "GET_MAX_MEM_SLOTS"})
    void emptyRequests(Request r) {
        assertEquals(r, decode(r, none()).request());
        rejected(r, u64(0), List.of(), "expected exactly 0");
        rejected(r, none(), eventfds(1), "carries none");
    }

    @ParameterizedTest
    @EnumSource(value = Request.class, names = {"SET_FEATURES", "SET_PROTOCOL_FEATURES"})
    void u64Requests(Request r) {
        Message m = decode(r, u64(0x8000_0000_4000_0001L));
        long value = m instanceof Message.SetFeatures f ? f.features() : ((Message.SetProtocolFeatures) m).features();
        assertEquals(0x8000_0000_4000_0001L, value);
        rejected(r, new byte[7], List.of(), "expected exactly 8");
        rejected(r, new byte[9], List.of(), "expected exactly 8");
        rejected(r, none(), List.of(), "expected exactly 8");
        rejected(r, u64(1), eventfds(3), "carries none");
    }

    // --- vring state ---

    @Test
    void vringStateRequests() {
        assertEquals(new Message.SetVringNum(1, 256), decode(Request.SET_VRING_NUM, vringState(1, 256)));
        assertEquals(new Message.SetVringBase(255, 0xffff), decode(Request.SET_VRING_BASE, vringState(255, 0xffff)));
        assertEquals(new Message.GetVringBase(3), decode(Request.GET_VRING_BASE, vringState(3, -7)));
        assertEquals(new Message.SetVringEnable(0, true), decode(Request.SET_VRING_ENABLE, vringState(0, 1)));
        assertEquals(new Message.SetVringEnable(2, false), decode(Request.SET_VRING_ENABLE, vringState(2, 0)));
    }

    @ParameterizedTest
    @EnumSource(value = Request.class, names = {"SET_VRING_NUM", "SET_VRING_BASE", "GET_VRING_BASE", "SET_VRING_ENABLE"})
    void vringStateRules(Request r) {
        rejected(r, vringState(256, 0), List.of(), "ring index 256");
        rejected(r, vringState(-1, 0), List.of(), "ring index 4294967295");
        rejected(r, new byte[12], List.of(), "expected exactly 8");
        rejected(r, vringState(0, 0), eventfds(1), "carries none");
    }

    @Test
    void vringNumAndBaseMustFit16Bits() {
        rejected(Request.SET_VRING_NUM, vringState(0, 0x10000), List.of(), "does not fit 16 bits");
        rejected(Request.SET_VRING_BASE, vringState(0, -1), List.of(), "does not fit 16 bits");
    }

    @Test
    void vringEnableIsZeroOrOne() {
        rejected(Request.SET_VRING_ENABLE, vringState(0, 2), List.of(), "neither 0 nor 1");
    }

    // --- vring addr ---

    @Test
    void decodesVringAddr() {
        assertEquals(new Message.SetVringAddr(1, 1, 10, 20, 30, 40),
                decode(Request.SET_VRING_ADDR, vringAddr(1, 1, 10, 20, 30, 40)));
        rejected(Request.SET_VRING_ADDR, vringAddr(0, 2, 0, 0, 0, 0), List.of(), "undefined flags 0x2");
        rejected(Request.SET_VRING_ADDR, vringAddr(300, 0, 0, 0, 0, 0), List.of(), "ring index 300");
        rejected(Request.SET_VRING_ADDR, new byte[32], List.of(), "expected exactly 40");
        rejected(Request.SET_VRING_ADDR, vringAddr(0, 0, 0, 0, 0, 0), eventfds(1), "carries none");
    }

    // --- vring fds ---

    @ParameterizedTest
    @EnumSource(value = Request.class, names = {"SET_VRING_KICK", "SET_VRING_CALL", "SET_VRING_ERR"})
    void vringFdWithFd(Request r) {
        List<OwnedFd> fds = eventfds(1);
        Message.SetVringFd m = (Message.SetVringFd) decode(r, vringFd(7, false), fds);
        assertEquals(new Message.SetVringFd(r, 7, false, fds.getFirst()), m);
        assertTrue(m.fd().isOpen());
    }

    @ParameterizedTest
    @EnumSource(value = Request.class, names = {"SET_VRING_KICK", "SET_VRING_CALL", "SET_VRING_ERR"})
    void vringFdNoFdFlag(Request r) {
        assertEquals(new Message.SetVringFd(r, 255, true, null), decode(r, vringFd(255, true)));
    }

    @ParameterizedTest
    @EnumSource(value = Request.class, names = {"SET_VRING_KICK", "SET_VRING_CALL", "SET_VRING_ERR"})
    void vringFdRules(Request r) {
        rejected(r, vringFd(0, false), List.of(), "0 fds attached, expected exactly one");
        rejected(r, vringFd(0, false), eventfds(2), "2 fds attached, expected exactly one");
        rejected(r, vringFd(0, true), eventfds(1), "1 fds attached, expected no fd");
        rejected(r, u64(0x200), eventfds(1), "bits other than");
        rejected(r, u64(1L << 63), List.of(), "bits other than");
        rejected(r, new byte[4], eventfds(1), "expected exactly 8");
    }

    // --- memory table ---

    @Test
    void decodesMemTable() {
        List<Message.MemoryRegion> regions = List.of(REGION,
                new Message.MemoryRegion(0x100000000L, 0x1000, 0x7f1000000000L, 0x2000));
        List<OwnedFd> fds = eventfds(2);
        Message.SetMemTable m = (Message.SetMemTable) decode(Request.SET_MEM_TABLE, memTable(regions), fds);
        assertEquals(regions, m.regions());
        assertEquals(fds, m.fds());
        assertTrue(fds.getFirst().isOpen() && fds.get(1).isOpen());
    }

    @Test
    void memTableWithEightRegions() {
        List<Message.MemoryRegion> regions = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            regions.add(new Message.MemoryRegion(i * 0x10000L, 0x10000, 0x7f0000000000L + i * 0x10000L, 0));
        }
        Message.SetMemTable m = (Message.SetMemTable) decode(Request.SET_MEM_TABLE, memTable(regions), eventfds(8));
        assertEquals(8, m.regions().size());
    }

    @Test
    void memTableRules() {
        Request r = Request.SET_MEM_TABLE;
        rejected(r, memTable(List.of(REGION, REGION)), eventfds(1), "1 fds attached, expected one fd per region (2)");
        rejected(r, memTable(List.of(REGION)), eventfds(2), "2 fds attached");
        rejected(r, memTable(List.of(REGION)), List.of(), "0 fds attached");
        rejected(r, memTable(List.of()), List.of(), "region count 0");
        byte[] nine = memTable(List.of(REGION));
        nine[0] = 9;
        rejected(r, nine, eventfds(1), "region count 9");
        byte[] huge = memTable(List.of(REGION));
        huge[3] = (byte) 0x80;
        rejected(r, huge, eventfds(1), "region count 2147483649");
        rejected(r, new byte[4], eventfds(1), "shorter than the 8-byte table header");
        byte[] truncated = java.util.Arrays.copyOf(memTable(List.of(REGION, REGION)), 8 + 32 + 16);
        rejected(r, truncated, eventfds(2), "expected exactly 72");
        byte[] padded = java.util.Arrays.copyOf(memTable(List.of(REGION)), 8 + 2 * 32);
        rejected(r, padded, eventfds(1), "expected exactly 40");
    }

    @Test
    void regionsMustBeNonEmptyAndNotWrap() {
        Request r = Request.SET_MEM_TABLE;
        rejected(r, memTable(List.of(new Message.MemoryRegion(0, 0, 0, 0))), eventfds(1), "has size 0");
        rejected(r, memTable(List.of(new Message.MemoryRegion(-4096, 8192, 0, 0))), eventfds(1), "guest address");
        rejected(r, memTable(List.of(new Message.MemoryRegion(0, 8192, -4096, 0))), eventfds(1), "user address");
        rejected(r, memTable(List.of(new Message.MemoryRegion(0, 8192, 0, -4096))), eventfds(1), "mmap offset");
        // Ending exactly at 2^64 - 1 is fine.
        Message.SetMemTable m = (Message.SetMemTable) decode(r,
                memTable(List.of(new Message.MemoryRegion(-4096, 4096, 0, 0))), eventfds(1));
        assertEquals(4096, m.regions().getFirst().size());
    }

    // --- ADD/REM_MEM_REG ---

    @Test
    void addMemReg() {
        List<OwnedFd> fds = eventfds(1);
        assertEquals(new Message.AddMemReg(REGION, fds.getFirst()), decode(Request.ADD_MEM_REG, singleRegion(REGION), fds));
        rejected(Request.ADD_MEM_REG, singleRegion(REGION), List.of(), "0 fds attached, expected exactly one fd");
        rejected(Request.ADD_MEM_REG, singleRegion(REGION), eventfds(2), "2 fds attached");
        rejected(Request.ADD_MEM_REG, new byte[32], eventfds(1), "expected exactly 40");
        rejected(Request.ADD_MEM_REG, singleRegion(new Message.MemoryRegion(0, 0, 0, 0)), eventfds(1), "size 0");
    }

    @Test
    void remMemRegClosesItsOptionalFd() {
        assertEquals(new Message.RemMemReg(REGION), decode(Request.REM_MEM_REG, singleRegion(REGION)));
        List<OwnedFd> fds = eventfds(1);
        int raw = fds.getFirst().fd();
        assertEquals(new Message.RemMemReg(REGION), decode(Request.REM_MEM_REG, singleRegion(REGION), fds));
        assertFalse(fds.getFirst().isOpen());
        assertTrue(OpenFds.isClosed(raw));
        rejected(Request.REM_MEM_REG, singleRegion(REGION), eventfds(2), "at most one");
        rejected(Request.REM_MEM_REG, new byte[48], eventfds(1), "expected exactly 40");
    }

    // --- inflight tracking ---

    private static byte[] inflight(long size, long offset, int numQueues, int queueSize, int bytes) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(24).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(size).putLong(offset).putShort((short) numQueues).putShort((short) queueSize);
        return java.util.Arrays.copyOf(b.array(), bytes);
    }

    private static byte[] logBase(long size, long offset) {
        return java.nio.ByteBuffer.allocate(16).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(size).putLong(offset)
                .array();
    }

    @Test
    void setLogBaseCarriesSizeOffsetAndItsFd() {
        List<OwnedFd> fds = eventfds(1);
        Message.SetLogBase m = (Message.SetLogBase) decode(Request.SET_LOG_BASE, logBase(0x2000, 0x100), fds);
        assertEquals(0x2000, m.mmapSize());
        assertEquals(0x100, m.mmapOffset());
        assertSame(fds.getFirst(), m.fd());
        Message.SetLogBase none = (Message.SetLogBase) decode(Request.SET_LOG_BASE, logBase(0x2000, 0));
        assertNull(none.fd(), "no fd: the engine refuses it with the reason");
    }

    @Test
    void setLogBaseWithTwoFdsOrAWrongSizeIsRefusedAndClosesThem() {
        rejected(Request.SET_LOG_BASE, logBase(0x2000, 0), eventfds(2), "2 fds attached");
        rejected(Request.SET_LOG_BASE, u64(0x2000), eventfds(1), "expected exactly 16");
    }

    @Test
    void setLogFdNeedsExactlyOneFd() {
        List<OwnedFd> fds = eventfds(1);
        assertSame(fds.getFirst(), ((Message.SetLogFd) decode(Request.SET_LOG_FD, none(), fds)).fd());
        rejected(Request.SET_LOG_FD, none(), List.of(), "expected exactly one eventfd");
        rejected(Request.SET_LOG_FD, none(), eventfds(2), "expected exactly one eventfd");
    }

    @Test
    void getInflightFd() {
        assertEquals(new Message.GetInflightFd(2, 128), decode(Request.GET_INFLIGHT_FD, inflight(0, 0, 2, 128, 24)));
        assertEquals(new Message.GetInflightFd(1, 65535), decode(Request.GET_INFLIGHT_FD, inflight(0, 0, 1, -1, 20)));
        rejected(Request.GET_INFLIGHT_FD, inflight(0, 0, 2, 128, 16), List.of(), "payload is 16 bytes");
        rejected(Request.GET_INFLIGHT_FD, inflight(0, 0, 2, 128, 24), eventfds(1), "carries none");
    }

    @Test
    void setBackendReqFdTakesExactlyOneFdAndNoPayload() {
        List<OwnedFd> fds = eventfds(1);
        assertEquals(new Message.SetBackendReqFd(fds.getFirst()), decode(Request.SET_BACKEND_REQ_FD, new byte[0], fds));
        rejected(Request.SET_BACKEND_REQ_FD, new byte[0], List.of(), "exactly one fd");
        rejected(Request.SET_BACKEND_REQ_FD, new byte[0], eventfds(2), "exactly one fd");
        rejected(Request.SET_BACKEND_REQ_FD, new byte[8], eventfds(1), "payload");
    }

    @Test
    void setInflightFd() {
        List<OwnedFd> fds = eventfds(1);
        assertEquals(new Message.SetInflightFd(4224, 0, 2, 128, fds.getFirst()),
                decode(Request.SET_INFLIGHT_FD, inflight(4224, 0, 2, 128, 24), fds));
        rejected(Request.SET_INFLIGHT_FD, inflight(4224, 0, 2, 128, 24), List.of(), "exactly one fd");
        rejected(Request.SET_INFLIGHT_FD, inflight(4224, 0, 2, 128, 24), eventfds(2), "exactly one fd");
        rejected(Request.SET_INFLIGHT_FD, inflight(0, 0, 2, 128, 24), eventfds(1), "not a usable range");
        rejected(Request.SET_INFLIGHT_FD, inflight(-1, 0, 2, 128, 24), eventfds(1), "not a usable range");
        rejected(Request.SET_INFLIGHT_FD, inflight(Long.MAX_VALUE, 4096, 2, 128, 24), eventfds(1), "not a usable range");
    }

    // --- config ---

    @Test
    void getConfig() {
        assertEquals(new Message.GetConfig(0, 60, 0), decode(Request.GET_CONFIG, config(0, 60, 0, new byte[60])));
        assertEquals(new Message.GetConfig(0, 256, 1), decode(Request.GET_CONFIG, config(0, 256, 1, new byte[256])));
    }

    @Test
    void setConfig() {
        Message.SetConfig m = (Message.SetConfig) decode(Request.SET_CONFIG, config(20, 2, 0, new byte[] {7, 9}));
        assertEquals(20, m.offset());
        assertArrayEquals(new byte[] {7, 9}, m.data());
    }

    @ParameterizedTest
    @EnumSource(value = Request.class, names = {"GET_CONFIG", "SET_CONFIG"})
    void configRules(Request r) {
        rejected(r, config(0, 257, 0, new byte[257]), List.of(), "exceeds the 256-byte maximum");
        rejected(r, config(0, -1, 0, new byte[4]), List.of(), "4294967295 bytes exceeds");
        rejected(r, config(0, 8, 0, new byte[4]), List.of(), "expected exactly 20");
        rejected(r, config(0, 4, 0, new byte[8]), List.of(), "expected exactly 16");
        rejected(r, config(250, 8, 0, new byte[8]), List.of(), "ends beyond byte 256");
        rejected(r, config(-8, 8, 0, new byte[8]), List.of(), "offset 4294967288");
        rejected(r, config(0, 4, 2, new byte[4]), List.of(), "neither 0 (front-end) nor 1");
        rejected(r, new byte[8], List.of(), "shorter than the 12-byte config header");
        rejected(r, config(0, 4, 0, new byte[4]), eventfds(1), "carries none");
    }

    @Test
    void payloadOutsidePositionAndLimitIsIgnored() {
        ByteBuffer b = ByteBuffer.allocate(20);
        b.put(4, u64(42)).position(4).limit(12);
        assertEquals(new Message.SetFeatures(42), MessageDecoder.decode(Request.SET_FEATURES.code, FLAGS, b, List.of()));
        assertEquals(4, b.position());
    }

    @Test
    void messageFdsListsAndClosesWhatAMessageCarries() {
        List<OwnedFd> fds = eventfds(2);
        Message m = decode(Request.SET_MEM_TABLE, memTable(List.of(REGION, REGION)), fds);
        assertEquals(fds, MessageFds.of(m));
        MessageFds.close(m);
        assertFalse(fds.getFirst().isOpen() || fds.get(1).isOpen());
        assertEquals(List.of(), MessageFds.of(decode(Request.SET_VRING_CALL, vringFd(0, true))));
    }
}
