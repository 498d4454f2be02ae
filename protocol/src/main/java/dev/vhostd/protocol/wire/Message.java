package dev.vhostd.protocol.wire;

import java.util.List;

import dev.vhostd.sys.OwnedFd;

/**
 * A decoded, validated front-end request. Records carry plain values; fds attached to a message are
 * already duplicated into {@link OwnedFd}s that the handler now owns (and must close or keep).
 * Field ranges are checked by the decoder against the wire format; the engine checks them against
 * the device (queue count, ring size limits, memory bounds).
 */
public sealed interface Message {
    Request request();

    record GetFeatures() implements Message {
        public Request request() { return Request.GET_FEATURES; }
    }

    record SetFeatures(long features) implements Message {
        public Request request() { return Request.SET_FEATURES; }
    }

    record SetOwner() implements Message {
        public Request request() { return Request.SET_OWNER; }
    }

    record ResetOwner() implements Message {
        public Request request() { return Request.RESET_OWNER; }
    }

    /** A memory region as the wire describes it (struct vhost_user_memory_region). */
    record MemoryRegion(long guestPhysAddr, long size, long userAddr, long mmapOffset) {}

    /** SET_MEM_TABLE: one fd per region, in order. */
    record SetMemTable(List<MemoryRegion> regions, List<OwnedFd> fds) implements Message {
        public Request request() { return Request.SET_MEM_TABLE; }
    }

    /**
     * SET_LOG_BASE: the dirty-page bitmap is {@code mmapSize} bytes at {@code mmapOffset} of {@code fd}
     * (VhostUserLog). {@code fd} is null when the front-end attached none (it did not negotiate LOG_SHMFD).
     */
    record SetLogBase(long mmapSize, long mmapOffset, OwnedFd fd) implements Message {
        public Request request() { return Request.SET_LOG_BASE; }
    }

    /** SET_LOG_FD: an eventfd to signal when the log has been written; exactly one fd. */
    record SetLogFd(OwnedFd fd) implements Message {
        public Request request() { return Request.SET_LOG_FD; }
    }

    record SetVringNum(int index, int num) implements Message {
        public Request request() { return Request.SET_VRING_NUM; }
    }

    /** Ring addresses are front-end virtual addresses (user addresses), not guest-physical. */
    record SetVringAddr(int index, int flags, long descUserAddr, long usedUserAddr, long availUserAddr,
            long logGuestAddr) implements Message {
        public static final int F_LOG = 1;
        public Request request() { return Request.SET_VRING_ADDR; }
    }

    record SetVringBase(int index, int num) implements Message {
        public Request request() { return Request.SET_VRING_BASE; }
    }

    record GetVringBase(int index) implements Message {
        public Request request() { return Request.GET_VRING_BASE; }
    }

    /**
     * SET_VRING_KICK / SET_VRING_CALL / SET_VRING_ERR: the u64 payload holds the index in bits 0-7
     * and the invalid-fd flag in bit 8. {@code fd} is null exactly when {@code noFd} is set
     * (for kick that means: poll the ring instead of waiting for kicks).
     */
    record SetVringFd(Request request, int index, boolean noFd, OwnedFd fd) implements Message {}

    record GetProtocolFeatures() implements Message {
        public Request request() { return Request.GET_PROTOCOL_FEATURES; }
    }

    record SetProtocolFeatures(long features) implements Message {
        public Request request() { return Request.SET_PROTOCOL_FEATURES; }
    }

    record GetQueueNum() implements Message {
        public Request request() { return Request.GET_QUEUE_NUM; }
    }

    record SetVringEnable(int index, boolean enable) implements Message {
        public Request request() { return Request.SET_VRING_ENABLE; }
    }

    /**
     * SET_BACKEND_REQ_FD: the back-end's end of a socket pair on which the back-end sends requests to
     * the front-end (BACKEND_REQ). Exactly one fd; the engine checks it is a connected stream socket.
     */
    record SetBackendReqFd(OwnedFd fd) implements Message {
        public Request request() { return Request.SET_BACKEND_REQ_FD; }
    }

    /** GET_CONFIG: offset and size into the device config space (the payload body is ignored). */
    record GetConfig(int offset, int size, int flags) implements Message {
        public Request request() { return Request.GET_CONFIG; }
    }

    record SetConfig(int offset, int flags, byte[] data) implements Message {
        public Request request() { return Request.SET_CONFIG; }
    }

    record ResetDevice() implements Message {
        public Request request() { return Request.RESET_DEVICE; }
    }

    record GetMaxMemSlots() implements Message {
        public Request request() { return Request.GET_MAX_MEM_SLOTS; }
    }

    /** GET_INFLIGHT_FD: the front-end's queue count and ring size; the mmap fields are unused. */
    record GetInflightFd(int numQueues, int queueSize) implements Message {
        public Request request() { return Request.GET_INFLIGHT_FD; }
    }

    /** SET_INFLIGHT_FD: the inflight-tracking area to use, with exactly one fd. */
    record SetInflightFd(long mmapSize, long mmapOffset, int numQueues, int queueSize, OwnedFd fd)
            implements Message {
        public Request request() { return Request.SET_INFLIGHT_FD; }
    }

    /** ADD_MEM_REG carries exactly one fd. */
    record AddMemReg(MemoryRegion region, OwnedFd fd) implements Message {
        public Request request() { return Request.ADD_MEM_REG; }
    }

    /** REM_MEM_REG may carry an fd (QEMU sends one); it is closed by the decoder. */
    record RemMemReg(MemoryRegion region) implements Message {
        public Request request() { return Request.REM_MEM_REG; }
    }
}
