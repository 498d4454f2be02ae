/**
 * Storage backends. They know nothing of virtio: the caller hands validated byte offsets and
 * memory segments (slices of mapped guest memory) in an {@link dev.vhostd.backend.IoOp}, and
 * results are 0 or a negative errno.
 *
 * <p>Open one with {@link dev.vhostd.backend.Backends#open}: {@code memory:SIZE} (a RAM disk in
 * MAP_NORESERVE memory), {@code null:SIZE} (reads zeroes, drops writes) or {@code file:PATH}
 * (regular file or block device; aio=io_uring by default when the kernel allows it, else
 * synchronous preadv/pwritev on the caller's thread). Each poller thread opens its own
 * {@link dev.vhostd.backend.BackendQueue}.
 *
 * <p>Decisions worth knowing:
 * <ul>
 *   <li>Every backend re-checks offset and length against its capacity and block size (EINVAL) and
 *       refuses writes, discards and write-zeroes when read-only (EROFS), whatever the caller
 *       validated.</li>
 *   <li>A read that meets end-of-file inside the capacity (the file shrank under us) fails with EIO
 *       rather than inventing zeroes.</li>
 *   <li>O_DIRECT: guest buffers whose address or length is not a multiple of the logical block size
 *       go through a per-queue aligned bounce buffer, synchronously, so the guest gets correct data.</li>
 *   <li>Write-zeroes: FALLOC_FL_ZERO_RANGE; where the file system refuses it, a punched hole if the
 *       guest allows unmapping, else written zero buffers. Discard: punched hole on files
 *       (reads zeroes afterwards), BLKDISCARD on block devices (EOPNOTSUPP where unsupported).</li>
 *   <li>io_uring: one ring per queue, sized by the queue depth; an op that finds every slot busy
 *       completes synchronously rather than waiting.</li>
 * </ul>
 */
package dev.vhostd.backend;
