package dev.vhostd.daemon.bench;

import java.lang.foreign.MemorySegment;

import dev.vhostd.protocol.frontend.BufferChain;
import dev.vhostd.protocol.frontend.DriverQueue;
import dev.vhostd.protocol.frontend.GuestBuffer;
import dev.vhostd.protocol.frontend.GuestRam;
import dev.vhostd.protocol.frontend.UsedHandler;
import dev.vhostd.protocol.frontend.VirtioBlkSpec;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Keeps {@code depth} virtio-blk requests in flight on one queue: every completion is timed,
 * checked and immediately replaced by the next request. Each in-flight slot owns a fixed header,
 * data buffer and status byte in guest RAM, so the request path allocates nothing.
 */
final class QueueLoad implements UsedHandler {
    /** Written into the status byte before submission; a device that completes without writing it is caught. */
    private static final byte STATUS_UNSET = (byte) 0xFF;

    final DriverQueue queue;
    final int callFd;
    private final RunStats stats;
    private final int depth;
    private final int blockSize;
    private final long sectorsPerBlock;
    private final MemorySegment headers;
    private final MemorySegment statuses;
    private final MemorySegment data;
    private final long headersGpa;
    private final long statusesGpa;
    private final long dataGpa;
    private final int[] headToSlot;
    private final long[] submittedAt;
    private final long[] slotBlock;
    private final boolean[] slotWrite;
    private final int[] slotGeneration;
    private final BufferChain chain = new BufferChain(3);
    private Workload workload;
    private boolean issuing;
    /** Time of the current pass, set by the driving loop: one clock read per pass, not per request. */
    long now;

    QueueLoad(DriverQueue queue, int callFd, GuestRam ram, int depth, int blockSize, RunStats stats) {
        if ((long) depth * 3 > queue.size()) {
            throw new IllegalArgumentException("depth " + depth + " needs " + 3 * depth + " descriptors but the queue has "
                    + queue.size());
        }
        this.queue = queue;
        this.callFd = callFd;
        this.stats = stats;
        this.depth = depth;
        this.blockSize = blockSize;
        this.sectorsPerBlock = blockSize / VirtioBlkSpec.SECTOR_SIZE;
        GuestBuffer h = ram.allocate((long) VirtioBlkSpec.HEADER_SIZE * depth, 16);
        GuestBuffer s = ram.allocate(depth, 8);
        GuestBuffer d = ram.allocate((long) blockSize * depth, 4096);
        headers = h.segment();
        statuses = s.segment();
        data = d.segment();
        headersGpa = h.guestAddress();
        statusesGpa = s.guestAddress();
        dataGpa = d.guestAddress();
        headToSlot = new int[queue.size()];
        submittedAt = new long[depth];
        slotBlock = new long[depth];
        slotWrite = new boolean[depth];
        slotGeneration = new int[depth];
    }

    /** Fills every slot from {@code w} (as far as it has requests) and keeps replacing completions from it. */
    void start(Workload w) {
        workload = w;
        issuing = true;
        for (int slot = 0; slot < depth; slot++) {
            if (!submit(slot)) {
                break;
            }
        }
    }

    /** No new requests: completions are still reaped, slots are not refilled. */
    void stopIssuing() {
        issuing = false;
    }

    @Override
    public void completed(int head, int writtenLength) {
        int slot = headToSlot[head];
        byte status = statuses.get(JAVA_BYTE, slot);
        stats.latency.record(now - submittedAt[slot]);
        boolean write = slotWrite[slot];
        boolean ok = status == VirtioBlkSpec.S_OK;
        if (write) {
            stats.writes++;
        } else {
            stats.reads++;
        }
        stats.bytes += blockSize;
        if (!ok) {
            stats.errors++;
        }
        if (workload.verifying()) {
            long block = slotBlock[slot];
            if (ok && !write && slotGeneration[slot] > 0) {
                check(slot, block);
            }
            workload.finished(block, write, ok, slotGeneration[slot]);
        }
        if (issuing) {
            submit(slot);
        }
    }

    private void check(int slot, long block) {
        long sector = block * sectorsPerBlock;
        long offset = (long) slot * blockSize;
        int bad = VerifyPattern.firstMismatch(data, offset, blockSize, sector, slotGeneration[slot]);
        if (bad >= 0) {
            long found = data.get(JAVA_LONG, offset + 8L * bad);
            long expectedSector = sector + bad / 64;
            int generation = slotGeneration[slot];
            stats.mismatch(() -> "queue " + queue.index() + " sector " + expectedSector + " (byte "
                    + (sector * 512 + 8L * bad) + "): expected "
                    + VerifyPattern.describe(VerifyPattern.word(expectedSector, generation, bad % 64)) + ", read "
                    + VerifyPattern.describe(found));
        }
    }

    private boolean submit(int slot) {
        long next = workload.next();
        if (next < 0) {
            return false;
        }
        long block = next >>> 1;
        boolean write = (next & 1) != 0;
        long sector = block * sectorsPerBlock;
        long h = (long) slot * VirtioBlkSpec.HEADER_SIZE;
        headers.set(JAVA_INT, h, write ? VirtioBlkSpec.T_OUT : VirtioBlkSpec.T_IN);
        headers.set(JAVA_LONG, h + 8, sector);
        statuses.set(JAVA_BYTE, slot, STATUS_UNSET);
        long dataAddress = dataGpa + (long) slot * blockSize;
        if (workload.verifying()) {
            int generation = write ? workload.nextGeneration(block) : workload.generation(block);
            slotGeneration[slot] = generation;
            if (write) {
                VerifyPattern.fill(data, (long) slot * blockSize, blockSize, sector, generation);
            }
        }
        chain.clear().readable(headersGpa + h, VirtioBlkSpec.HEADER_SIZE);
        if (write) {
            chain.readable(dataAddress, blockSize);
        } else {
            chain.writable(dataAddress, blockSize);
        }
        chain.writable(statusesGpa + slot, 1);
        int head = queue.add(chain);
        if (head < 0) {
            throw new IllegalStateException("queue " + queue.index() + " ran out of descriptors with " + queue.inFlight()
                    + " requests in flight");
        }
        headToSlot[head] = slot;
        submittedAt[slot] = now;
        slotBlock[slot] = block;
        slotWrite[slot] = write;
        return true;
    }
}
