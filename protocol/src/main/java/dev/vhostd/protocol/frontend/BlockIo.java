package dev.vhostd.protocol.frontend;

import java.lang.foreign.MemorySegment;

import dev.vhostd.sys.Epoll;
import dev.vhostd.sys.EventFd;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * One virtio-blk request at a time on one queue, waiting for its completion: the simple way for a
 * test to read, write and flush a vhost-user-blk disk. The data buffer lives in guest RAM; fill it
 * before {@link #write}, read it after {@link #read}. Not for throughput: see the bench for that.
 */
public final class BlockIo implements AutoCloseable {
    private static final byte STATUS_UNSET = (byte) 0xFF;

    private final DriverQueue queue;
    private final int callFd;
    private final GuestBuffer header;
    private final GuestBuffer data;
    private final GuestBuffer status;
    private final BufferChain chain = new BufferChain(3);
    private final Epoll epoll = new Epoll(1);
    private final EventFd events = new EventFd();
    private int completedHead;
    private int completedLength;

    /** Uses queue {@code queueIndex} of {@code device}, which nothing else may drive meanwhile. */
    public BlockIo(VhostUserBlkFrontend device, int queueIndex, int maxDataBytes) {
        if (maxDataBytes < VirtioBlkSpec.SECTOR_SIZE) {
            throw new IllegalArgumentException("data buffer must hold at least one sector");
        }
        this.queue = device.queue(queueIndex);
        this.callFd = device.callFd(queueIndex);
        header = device.ram().allocate(VirtioBlkSpec.HEADER_SIZE, 16);
        data = device.ram().allocate(maxDataBytes, 4096);
        status = device.ram().allocate(1, 1);
        epoll.add(callFd, Epoll.EPOLLIN, 0);
    }

    /** The data buffer (guest RAM), {@code maxDataBytes} long. */
    public MemorySegment data() {
        return data.segment();
    }

    /** VIRTIO_BLK_T_IN of {@code length} bytes at {@code sector} into {@link #data()}; returns the status byte. */
    public int read(long sector, int length) {
        return request(VirtioBlkSpec.T_IN, sector, length, 5_000);
    }

    /** VIRTIO_BLK_T_OUT of the first {@code length} bytes of {@link #data()} at {@code sector}. */
    public int write(long sector, int length) {
        return request(VirtioBlkSpec.T_OUT, sector, length, 5_000);
    }

    public int flush() {
        return request(VirtioBlkSpec.T_FLUSH, 0, 0, 5_000);
    }

    /** Bytes the device reported writing for the last request (used.len: data in plus the status byte). */
    public int lastWrittenLength() {
        return completedLength;
    }

    /**
     * Submits one request of {@code type} and waits up to {@code timeoutMs} for it. Types that
     * carry data: T_OUT sends {@code length} bytes, T_IN and T_GET_ID receive them. Returns the
     * status byte as the device wrote it (0 OK, 1 IOERR, 2 UNSUPP), or 0xFF if it wrote none.
     */
    public int request(int type, long sector, int length, long timeoutMs) {
        if (length < 0 || length > data.size()) {
            throw new IllegalArgumentException("length " + length + " outside the " + data.size() + "-byte buffer");
        }
        if (queue.inFlight() != 0) {
            throw new IllegalStateException("queue " + queue.index() + " has requests in flight from someone else");
        }
        header.segment().set(JAVA_INT, 0, type);
        header.segment().set(JAVA_INT, 4, 0);
        header.segment().set(JAVA_LONG, 8, sector);
        status.segment().set(JAVA_BYTE, 0, STATUS_UNSET);
        chain.clear().readable(header.guestAddress(), VirtioBlkSpec.HEADER_SIZE);
        if (length > 0) {
            if (type == VirtioBlkSpec.T_OUT) {
                chain.readable(data.guestAddress(), length);
            } else {
                chain.writable(data.guestAddress(), length);
            }
        }
        chain.writable(status.guestAddress(), 1);
        int head = queue.add(chain);
        if (head < 0) {
            throw new IllegalStateException("queue " + queue.index() + " has no free descriptors");
        }
        queue.kickIfNeeded();
        long deadline = System.nanoTime() + timeoutMs * 1_000_000;
        completedHead = -1;
        while (queue.reapUsed(this::completed) == 0) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new FrontendException("queue " + queue.index() + ": no completion within " + timeoutMs
                        + " ms for request type " + type + " at sector " + sector);
            }
            if (!queue.enableNotifications()) {
                epoll.await((int) Math.max(1, Math.min(100, left / 1_000_000)));
                events.drain(callFd);
            }
        }
        if (completedHead != head) {
            throw new FrontendException("queue " + queue.index() + ": device completed head " + completedHead
                    + ", expected " + head);
        }
        return Byte.toUnsignedInt(status.segment().get(JAVA_BYTE, 0));
    }

    private void completed(int head, int length) {
        completedHead = head;
        completedLength = length;
    }

    @Override
    public void close() {
        epoll.close();
    }
}
