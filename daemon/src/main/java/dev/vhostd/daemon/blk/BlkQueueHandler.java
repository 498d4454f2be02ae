package dev.vhostd.daemon.blk;

import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import dev.vhostd.backend.BackendQueue;
import dev.vhostd.backend.IoOp;
import dev.vhostd.daemon.limits.RateLimiter;
import dev.vhostd.daemon.metrics.InvalidKind;
import dev.vhostd.daemon.metrics.QueueMetrics;
import dev.vhostd.daemon.metrics.RequestStatus;
import dev.vhostd.daemon.metrics.RequestType;
import dev.vhostd.protocol.device.QueueHandler;
import dev.vhostd.protocol.device.RateLimitedLog;
import dev.vhostd.protocol.memory.DirtyLog;
import dev.vhostd.protocol.memory.GuestMemory;
import dev.vhostd.protocol.memory.GuestMemoryException;
import dev.vhostd.protocol.virtq.DescriptorChain;
import dev.vhostd.protocol.virtq.InvalidChainException;
import dev.vhostd.protocol.virtq.SplitQueue;
import dev.vhostd.sys.Errno;

/**
 * Serves one virtio-blk queue: parses requests from descriptor chains, validates them against the
 * device, submits them to the backend and completes them, possibly out of order. Every popped head
 * is completed exactly once. Slots are preallocated per ring entry, so the hot path allocates
 * nothing but the guest-memory slices it hands to the backend.
 */
final class BlkQueueHandler implements QueueHandler {
    private static final System.Logger LOG = System.getLogger(BlkQueueHandler.class.getName());
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    /** Slices per request: seg_max plus room for buffers that cross memory regions. */
    private static final int MAX_SLICES = 2 * BlkOptions.SEG_MAX + 4;

    private final VirtioBlkDevice device;
    private final int index;
    private final SplitQueue queue;
    private final GuestMemory memory;
    private final BackendQueue backend;
    private final byte[] serial;
    private final boolean readOnly;
    private final QueueMetrics metrics;
    /** The device's capacity, read once per batch (see {@link VirtioBlkDevice#capacity()}). */
    private long capacity;
    private final int blockMask;
    private final DescriptorChain chain;
    private final Slot[] slots;
    private final int[] freeSlots;
    private int freeCount;
    private final MemorySegment[] slices = new MemorySegment[MAX_SLICES];
    private final Arena arena = Arena.ofShared(); // built on the connection thread, used on the poller
    private final MemorySegment scratch = arena.allocate(VirtioBlk.HEADER_SIZE, 8);
    private final BackendQueue.CompletionSink sink = this::backendCompleted;
    private int completedInBatch;
    /** Data bytes of the requests started in this call of {@link #doWork}; see {@link #BATCH_BYTES}. */
    private long startedBytes;
    private long now;
    /** While over the disk's limit: when to look at the avail ring again (nanoTime), else 0. */
    private long heldUntil;
    /** The limits {@link #heldUntil} was computed under; a new one is looked at at once. */
    private RateLimiter.Gate heldGate;
    /** Since when the held-back time has not been counted yet (nanoTime), or 0 when not held. */
    private long heldMark;
    /**
     * A held queue looks again at least this often, so a raised or removed limit takes effect
     * within 100 ms even when the old one had it wait longer.
     */
    static final long RECHECK_NANOS = 50_000_000L;
    /**
     * A call of {@link #doWork} starts no more requests once those it started carry this many data
     * bytes: the poller then publishes what completed (notifying the driver if it waits) before
     * the next call takes more. Without it a burst of large requests (32 of 64 KiB) was copied as
     * one batch and published at its end, so the driver saw its first completion only after all of
     * them and could not refill while the device worked. 4 KiB requests never reach it at the
     * depths a virtio-blk ring holds in practice (256 KiB is 64 of them).
     */
    static final long BATCH_BYTES = 256 * 1024;
    /** The session's negotiated features: whether the driver can flush decides write-through. */
    private final long features;
    /** This batch's write-cache mode (see {@link VirtioBlkDevice#writethrough(long)}). */
    private boolean writethrough;
    /**
     * Write-through: writes whose data is written but not yet stable wait here for the next
     * fdatasync, which one FLUSH op issues for the whole batch before any of them completes.
     */
    private int[] awaitingSync;
    private int awaitingCount;
    /** The writes the FLUSH op in flight covers. */
    private int[] syncing;
    private int syncingCount;
    private final Slot syncSlot;
    private boolean syncInFlight;
    /** Guest-provoked log lines, limited per queue and kind; metrics count every event. */
    private final RateLimitedLog invalidChains;
    private final RateLimitedLog invalidRequests;
    private final RateLimitedLog backendErrors;

    /** One request in flight. */
    private static final class Slot {
        final int id;
        final IoOp op = new IoOp(MAX_SLICES);
        int head;
        RequestType kind;
        MemorySegment status;
        long dataBytes;
        long startNanos;
        boolean flushAfter;

        Slot(int id) {
            this.id = id;
            op.attach(this);
        }
    }

    BlkQueueHandler(VirtioBlkDevice device, int index, SplitQueue queue, GuestMemory memory, BackendQueue backend,
            byte[] serial, boolean readOnly, QueueMetrics metrics, long features) {
        this.device = device;
        this.index = index;
        this.queue = queue;
        this.memory = memory;
        this.backend = backend;
        this.serial = serial;
        this.readOnly = readOnly;
        this.metrics = metrics;
        this.capacity = device.capacity();
        this.blockMask = device.backend().blockSize() - 1;
        this.chain = new DescriptorChain(queue.size());
        this.slots = new Slot[queue.size()];
        this.freeSlots = new int[queue.size()];
        for (int i = 0; i < slots.length; i++) {
            slots[i] = new Slot(i);
            slots[i].op.segmentsCannotFault(memory.cannotFault());
            freeSlots[i] = i;
        }
        this.freeCount = slots.length;
        this.features = features;
        this.awaitingSync = new int[queue.size()];
        this.syncing = new int[queue.size()];
        this.syncSlot = new Slot(-1);
        this.syncSlot.kind = RequestType.FLUSH;
        String prefix = "queue " + index + ": ";
        this.invalidChains = new RateLimitedLog(LOG, Level.WARNING, prefix, "invalid descriptor chains from this guest");
        this.invalidRequests = new RateLimitedLog(LOG, Level.WARNING, prefix, "invalid requests from this guest");
        this.backendErrors = new RateLimitedLog(LOG, Level.WARNING, prefix, "failed backend operations");
    }

    @Override
    public int doWork() {
        int work = work();
        // Before the poller publishes the used ring: a driver that saw a completion and then
        // scrapes finds nothing of it still in flight.
        metrics.setInFlight(inFlight());
        return work;
    }

    private int work() {
        completedInBatch = 0;
        // One clock read per batch, not two per request: latency is measured at batch granularity,
        // which is finer than the histogram's lowest bucket (5 us) for a batch's own completions.
        now = System.nanoTime();
        capacity = device.capacity();
        writethrough = device.writethrough(features);
        invalidChains.tick(now);
        invalidRequests.tick(now);
        backendErrors.tick(now);
        if (backend.inFlight() > 0) {
            backend.reap(sink);
        }
        int popped = 0;
        RateLimiter.Gate gate = device.limiter().gate();
        if (gate != heldGate) {
            heldUntil = 0;
        }
        if (heldUntil != 0 && heldUntil - now > 0) {
            // Over the limit: requests stay in the avail ring (back-pressure), and we do not look.
            countHeld();
            return completedInBatch;
        }
        heldUntil = 0;
        startedBytes = 0;
        while (freeCount > 0 && startedBytes < BATCH_BYTES) {
            boolean got;
            try {
                got = queue.pop(chain);
            } catch (InvalidChainException e) {
                // The head is known: complete it with nothing written so the driver gets it back.
                metrics.invalidInput(InvalidKind.BAD_CHAIN);
                if (invalidChains.admit(now)) {
                    // The exception's message already says "invalid descriptor chain at head N".
                    LOG.log(Level.WARNING, invalidChains.prefix() + e.getMessage());
                }
                queue.addUsed(e.head(), 0);
                popped++;
                continue;
            }
            if (!got) {
                break;
            }
            if (gate != null) {
                long wait = admit(gate);
                if (wait > 0) {
                    queue.unpop();
                    heldUntil = now + Math.min(wait, RECHECK_NANOS);
                    heldGate = gate;
                    if (heldMark == 0) {
                        heldMark = now;
                    }
                    break;
                }
            }
            if (heldMark != 0) {
                countHeld();
                heldMark = 0;
            }
            popped++;
            Slot slot = slots[freeSlots[--freeCount]];
            start(slot);
        }
        if (awaitingCount > 0 && !syncInFlight) {
            startSync();
        }
        if (popped > 0 || syncInFlight) {
            backend.flushSubmissions();
        }
        return popped + completedInBatch;
    }

    private void countHeld() {
        if (heldMark != 0) {
            metrics.heldBackNanos(now - heldMark);
            heldMark = now;
        }
    }

    /**
     * Whether the request just popped fits the disk's limits now: 0 if it does (and it is charged),
     * else how long until it would. Requests that will fail validation are let through (they cost
     * nothing and must be completed); flush and get-id are never held.
     */
    private long admit(RateLimiter.Gate gate) {
        long readable = chain.readableBytes();
        long writable = chain.writableBytes();
        if (readable < VirtioBlk.HEADER_SIZE || writable < 1) {
            return 0;
        }
        try {
            copyOut(0, VirtioBlk.HEADER_SIZE);
        } catch (GuestMemoryException e) {
            return 0;
        }
        return switch (scratch.get(LE_INT, 0)) {
            case VirtioBlk.T_IN -> gate.admit(false, writable - 1, now);
            case VirtioBlk.T_OUT -> gate.admit(true, readable - VirtioBlk.HEADER_SIZE, now);
            case VirtioBlk.T_DISCARD, VirtioBlk.T_WRITE_ZEROES -> gate.admit(true, 0, now);
            default -> 0;
        };
    }

    @Override
    public long heldUntil() {
        return heldUntil;
    }

    private void start(Slot slot) {
        slot.head = chain.head();
        slot.startNanos = now;
        slot.flushAfter = false;
        slot.dataBytes = 0;
        slot.kind = RequestType.UNSUPPORTED;
        long readable = chain.readableBytes();
        long writable = chain.writableBytes();
        if (readable < VirtioBlk.HEADER_SIZE || writable < 1) {
            // No header or no room for a status byte: nothing can be reported inside the request.
            metrics.invalidInput(InvalidKind.BAD_CHAIN);
            if (invalidRequests.admit(now)) {
                LOG.log(Level.WARNING, invalidRequests.prefix() + "request at head " + slot.head
                        + " has no header or no status byte; completing it empty");
            }
            release(slot, 0);
            return;
        }
        // The status byte is the last byte of device-writable space (virtio 1.2 5.2.6): the end of the
        // last writable descriptor that has any bytes. Zero-length descriptors after it hold nothing.
        int last = chain.count() - 1;
        while (chain.length(last) == 0) {
            last--; // stops inside the writable part: writable >= 1 above
        }
        try {
            slot.status = memory.slice(chain.address(last) + chain.length(last) - 1, 1);
            copyOut(0, VirtioBlk.HEADER_SIZE);
        } catch (GuestMemoryException e) {
            metrics.invalidInput(InvalidKind.BAD_ADDRESS);
            release(slot, 0);
            return;
        }
        // From here on every path ends in finish(): the status byte is written and counted.
        int type = scratch.get(LE_INT, 0);
        long sector = scratch.get(LE_LONG, 8);
        try {
            switch (type) {
                case VirtioBlk.T_IN -> startData(slot, RequestType.READ, IoOp.Type.READ, sector, writable - 1, false);
                case VirtioBlk.T_OUT -> {
                    if (readOnly) {
                        finish(slot, RequestType.WRITE, VirtioBlk.S_IOERR, 0);
                        return;
                    }
                    startData(slot, RequestType.WRITE, IoOp.Type.WRITE, sector, readable - VirtioBlk.HEADER_SIZE, true);
                }
                case VirtioBlk.T_FLUSH -> {
                    slot.kind = RequestType.FLUSH;
                    slot.op.setRange(IoOp.Type.FLUSH, 0, 0, false);
                    submit(slot);
                }
                case VirtioBlk.T_GET_ID -> getId(slot, writable - 1);
                case VirtioBlk.T_DISCARD -> startRange(slot, RequestType.DISCARD, IoOp.Type.DISCARD, readable);
                case VirtioBlk.T_WRITE_ZEROES -> startRange(slot, RequestType.WRITE_ZEROES, IoOp.Type.WRITE_ZEROES, readable);
                default -> finish(slot, RequestType.UNSUPPORTED, VirtioBlk.S_UNSUPP, 0);
            }
        } catch (GuestMemoryException e) {
            metrics.invalidInput(InvalidKind.BAD_ADDRESS);
            if (invalidRequests.admit(now)) {
                LOG.log(Level.WARNING, invalidRequests.prefix() + "request at head " + slot.head
                        + " points outside guest memory: " + e.getMessage());
            }
            finish(slot, slot.kind, VirtioBlk.S_IOERR, 0);
        }
    }

    /** IN and OUT: the data is the chain's bytes between header and status byte. */
    private void startData(Slot slot, RequestType kind, IoOp.Type type, long sector, long length, boolean fromReadable) {
        slot.kind = kind;
        if (!rangeValid(sector, length) || length == 0) {
            finish(slot, kind, VirtioBlk.S_IOERR, 0);
            return;
        }
        IoOp op = slot.op.setData(type, sector << VirtioBlk.SECTOR_SHIFT);
        boolean ok = fromReadable
                ? addSegments(op, false, VirtioBlk.HEADER_SIZE, length)
                : addSegments(op, true, 0, length);
        if (!ok) {
            finish(slot, kind, VirtioBlk.S_IOERR, 0);
            return;
        }
        slot.dataBytes = length;
        startedBytes += length;
        slot.flushAfter = type == IoOp.Type.WRITE && writethrough;
        submit(slot);
    }

    /** DISCARD and WRITE_ZEROES: one struct virtio_blk_discard_write_zeroes after the header. */
    private void startRange(Slot slot, RequestType kind, IoOp.Type type, long readable) {
        slot.kind = kind;
        if (readOnly) {
            finish(slot, kind, VirtioBlk.S_IOERR, 0);
            return;
        }
        boolean supported = type == IoOp.Type.DISCARD
                ? device.backend().supportsDiscard() : device.backend().supportsWriteZeroes();
        if (!supported) {
            finish(slot, kind, VirtioBlk.S_UNSUPP, 0);
            return;
        }
        // max_discard_seg and max_write_zeroes_seg are 1: exactly one segment.
        if (readable != VirtioBlk.HEADER_SIZE + VirtioBlk.DWZ_SEGMENT_SIZE) {
            finish(slot, kind, VirtioBlk.S_IOERR, 0);
            return;
        }
        copyOut(VirtioBlk.HEADER_SIZE, VirtioBlk.DWZ_SEGMENT_SIZE);
        long sector = scratch.get(LE_LONG, 0);
        long sectors = Integer.toUnsignedLong(scratch.get(LE_INT, 8));
        int flags = scratch.get(LE_INT, 12);
        // 5.2.6.2: unknown flags, or unmap on a discard, are UNSUPP.
        if ((flags & ~VirtioBlk.DWZ_FLAG_UNMAP) != 0
                || (type == IoOp.Type.DISCARD && (flags & VirtioBlk.DWZ_FLAG_UNMAP) != 0)) {
            finish(slot, kind, VirtioBlk.S_UNSUPP, 0);
            return;
        }
        long length = sectors << VirtioBlk.SECTOR_SHIFT;
        if (sectors == 0 || sectors > BlkOptions.MAX_DWZ_SECTORS || !rangeValid(sector, length)) {
            finish(slot, kind, VirtioBlk.S_IOERR, 0);
            return;
        }
        slot.op.setRange(type, sector << VirtioBlk.SECTOR_SHIFT, length, (flags & VirtioBlk.DWZ_FLAG_UNMAP) != 0);
        slot.dataBytes = length;
        submit(slot);
    }

    private void getId(Slot slot, long room) {
        slot.kind = RequestType.GET_ID;
        // Write the serial NUL-padded to at most 20 bytes into the writable data area.
        long n = Math.min(room, VirtioBlk.ID_BYTES);
        long written = 0;
        int count = chain.count();
        for (int i = chain.firstWritable(); i < count && written < n; i++) {
            long len = Math.min(chain.length(i), n - written);
            MemorySegment dst = memory.slice(chain.address(i), len);
            for (long j = 0; j < len; j++) {
                long k = written + j;
                dst.set(ValueLayout.JAVA_BYTE, j, k < serial.length ? serial[(int) k] : 0);
            }
            DirtyLog log = queue.dirtyLog();
            if (log != null) {
                log.mark(chain.address(i), len);
            }
            written += len;
        }
        finish(slot, RequestType.GET_ID, VirtioBlk.S_OK, written);
    }

    /** Overflow-safe: sector*512 + length must lie within capacity and respect the block size. */
    private boolean rangeValid(long sector, long length) {
        if (sector < 0 || sector > (capacity >>> VirtioBlk.SECTOR_SHIFT)) {
            return false;
        }
        long offset = sector << VirtioBlk.SECTOR_SHIFT;
        if ((offset & blockMask) != 0 || (length & blockMask) != 0) {
            return false;
        }
        return length >= 0 && length <= capacity - offset;
    }

    /**
     * Appends the guest slices of {@code length} bytes of the chain's readable (or writable) part,
     * skipping {@code skip} bytes first, to {@code op}. Returns false if it needs too many slices or
     * a segment is larger than size_max.
     */
    private boolean addSegments(IoOp op, boolean writablePart, long skip, long length) {
        int count = chain.count();
        int first = writablePart ? chain.firstWritable() : 0;
        int end = writablePart ? count : chain.firstWritable();
        long remaining = length;
        for (int i = first; i < end && remaining > 0; i++) {
            long len = chain.length(i);
            if (len > BlkOptions.SIZE_MAX) {
                return false;
            }
            if (skip >= len) {
                skip -= len;
                continue;
            }
            long take = Math.min(len - skip, remaining);
            int room = op.maxSegments() - op.segmentCount();
            if (room <= 0) {
                return false;
            }
            int n = memory.slices(chain.address(i) + skip, take, slices, 0);
            if (n > room) {
                return false;
            }
            for (int s = 0; s < n; s++) {
                op.addSegment(slices[s]);
                slices[s] = null;
            }
            remaining -= take;
            skip = 0;
        }
        return remaining == 0;
    }

    /** Copies {@code length} readable bytes at {@code skip} into the scratch buffer (TOCTOU-safe). */
    private void copyOut(long skip, int length) {
        long copied = 0;
        int end = chain.firstWritable();
        for (int i = 0; i < end && copied < length; i++) {
            long len = chain.length(i);
            if (skip >= len) {
                skip -= len;
                continue;
            }
            long take = Math.min(len - skip, length - copied);
            MemorySegment src = memory.slice(chain.address(i) + skip, take);
            MemorySegment.copy(src, 0, scratch, copied, take);
            copied += take;
            skip = 0;
        }
        if (copied != length) {
            throw new GuestMemoryException("request shorter than its header");
        }
    }

    private void submit(Slot slot) {
        if (backend.submit(slot.op)) {
            backendCompleted(slot.op);
        }
    }

    private void backendCompleted(IoOp op) {
        Slot slot = (Slot) op.attachment();
        int result = op.result();
        if (slot == syncSlot) {
            syncCompleted(result);
            return;
        }
        if (slot.kind == RequestType.READ) {
            // The backend (or the kernel, for io_uring and preadv) wrote into guest memory, whatever
            // the result: log those pages before the used idx can tell the guest.
            DirtyLog log = queue.dirtyLog();
            if (log != null) {
                for (int i = 0, n = op.segmentCount(); i < n; i++) {
                    log.mark(memory, op.segment(i));
                }
            }
        }
        op.clearSegments();
        if (result == 0 && slot.flushAfter) {
            // Write-through: the write completes only after the batch's fdatasync (startSync).
            slot.flushAfter = false;
            awaitingSync[awaitingCount++] = slot.id;
            return;
        }
        if (result != 0) {
            backendError(slot.kind, result);
        }
        long written = result == 0 && slot.kind == RequestType.READ ? slot.dataBytes : 0;
        finish(slot, slot.kind, result == 0 ? VirtioBlk.S_OK : VirtioBlk.S_IOERR, written);
    }

    private void backendError(RequestType kind, int result) {
        metrics.backendError();
        if (backendErrors.admit(now)) {
            LOG.log(Level.WARNING, backendErrors.prefix() + "backend " + kind + " failed: " + Errno.name(-result)
                    + " (" + device.backend().describe() + "); the guest gets an I/O error");
        }
    }

    /** One fdatasync for every write of the batch that waits for it; they complete when it does. */
    private void startSync() {
        int[] t = syncing;
        syncing = awaitingSync;
        syncingCount = awaitingCount;
        awaitingSync = t;
        awaitingCount = 0;
        syncInFlight = true;
        syncSlot.op.clearSegments();
        syncSlot.op.setRange(IoOp.Type.FLUSH, 0, 0, false);
        if (backend.submit(syncSlot.op)) {
            syncCompleted(syncSlot.op.result());
        }
    }

    /** A write whose data is not known to be stable fails: it is never acknowledged as written. */
    private void syncCompleted(int result) {
        syncInFlight = false;
        if (result != 0) {
            backendError(RequestType.FLUSH, result);
        }
        byte status = result == 0 ? VirtioBlk.S_OK : VirtioBlk.S_IOERR;
        for (int i = 0; i < syncingCount; i++) {
            finish(slots[syncing[i]], RequestType.WRITE, status, 0);
        }
        syncingCount = 0;
    }

    /** Writes the status byte and adds the used entry: used length = data written + status byte. */
    private void finish(Slot slot, RequestType kind, byte status, long dataWritten) {
        slot.status.set(ValueLayout.JAVA_BYTE, 0, status);
        DirtyLog log = queue.dirtyLog();
        if (log != null) {
            log.mark(memory, slot.status);
        }
        long bytes = kind == RequestType.READ || kind == RequestType.WRITE ? slot.dataBytes : 0;
        metrics.requestCompleted(kind, RequestStatus.fromVirtio(status), status == VirtioBlk.S_OK ? bytes : 0,
                now - slot.startNanos);
        release(slot, dataWritten + 1);
    }

    private void release(Slot slot, long usedLength) {
        queue.addUsed(slot.head, (int) usedLength);
        slot.status = null;
        slot.op.clearSegments();
        freeSlots[freeCount++] = slot.id;
        completedInBatch++;
    }

    @Override
    public int completionFd() {
        return backend.completionFd();
    }

    @Override
    public void completionSignalled() {
        int fd = backend.completionFd();
        if (fd >= 0) {
            drainer.drain(fd);
        }
    }

    private final dev.vhostd.sys.EventFd drainer = new dev.vhostd.sys.EventFd();

    @Override
    public int inFlight() {
        return slots.length - freeCount;
    }

    @Override
    public void drain() {
        backend.drain(sink);
        // Writes that wait for their fdatasync are in flight too: complete them durably.
        while (awaitingCount > 0 || syncInFlight) {
            if (!syncInFlight) {
                startSync();
                backend.flushSubmissions();
            }
            if (syncInFlight) {
                backend.drain(sink);
            }
        }
        metrics.setInFlight(inFlight());
    }

    @Override
    public void close() {
        if (heldMark != 0) {
            now = System.nanoTime();
            countHeld();
        }
        long t = System.nanoTime();
        invalidChains.close(t);
        invalidRequests.close(t);
        backendErrors.close(t);
        backend.close();
        arena.close();
    }
}
