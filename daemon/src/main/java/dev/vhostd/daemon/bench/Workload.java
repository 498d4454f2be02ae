package dev.vhostd.daemon.bench;

/**
 * Chooses the next request: read or write, and which block (of {@code blockSize} bytes) of the
 * tested range. Random patterns use xorshift64*; sequential ones a cursor shared by all queues. In
 * verify mode it also tracks each block's last written generation and which blocks are in flight,
 * so no two requests touch one block at once (their order would be undefined) and every read has
 * a known expected content.
 */
final class Workload {
    private final RwMode mode;
    private final int readPercent;
    private final long blocks;
    private final long limit;
    private final int[] generation;
    private final boolean[] busy;
    private long issued;
    private long cursor;
    private long rng;

    /**
     * @param limit   stop after this many requests (Long.MAX_VALUE: never)
     * @param verify  track generations and in-flight blocks (needs blocks below 2^31)
     */
    Workload(RwMode mode, int readPercent, long blocks, long limit, boolean verify, long seed) {
        if (blocks < 1) {
            throw new IllegalArgumentException("the tested range holds no whole block");
        }
        if (verify && blocks > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("--verify tracks each block: " + blocks + " blocks are too many; "
                    + "use a smaller --size or a larger --bs");
        }
        this.mode = mode;
        this.readPercent = readPercent;
        this.blocks = blocks;
        this.limit = limit;
        this.generation = verify ? new int[(int) blocks] : null;
        this.busy = verify ? new boolean[(int) blocks] : null;
        this.rng = seed == 0 ? 0x9E3779B97F4A7C15L : seed;
    }

    /** Shares the verify state (generations) of {@code other}, for a measured run after a prefill. */
    Workload(Workload other, RwMode mode, int readPercent, long limit) {
        this.mode = mode;
        this.readPercent = readPercent;
        this.blocks = other.blocks;
        this.limit = limit;
        this.generation = other.generation;
        this.busy = other.busy;
        this.rng = other.rng ^ 0x5DEECE66DL;
    }

    long blocks() {
        return blocks;
    }

    boolean verifying() {
        return generation != null;
    }

    /** The next request as {@code block << 1 | (write ? 1 : 0)}, or -1 when the limit is reached. */
    long next() {
        if (issued >= limit) {
            return -1;
        }
        boolean write = mode.writes && (!mode.reads || (int) Long.remainderUnsigned(nextRandom(), 100) >= readPercent);
        long block = pickBlock();
        if (busy != null) {
            // Re-pick while the block is in flight; the range is much larger than what is in flight.
            for (int tries = 0; busy[(int) block]; tries++) {
                if (tries > 1000) {
                    throw new IllegalStateException("no idle block found: the range is too small for this depth");
                }
                block = pickBlock();
            }
            busy[(int) block] = true;
        }
        issued++;
        return block << 1 | (write ? 1 : 0);
    }

    private long pickBlock() {
        if (mode.random) {
            return Long.remainderUnsigned(nextRandom(), blocks);
        }
        long b = cursor;
        cursor = cursor + 1 == blocks ? 0 : cursor + 1;
        return b;
    }

    private long nextRandom() {
        long x = rng;
        x ^= x >>> 12;
        x ^= x << 25;
        x ^= x >>> 27;
        rng = x;
        return x * 0x2545F4914F6CDD1DL;
    }

    /** Generation a write of {@code block} should carry (the next one). Verify mode only. */
    int nextGeneration(long block) {
        return Math.max(0, generation[(int) block]) + 1;
    }

    /** Generation the block holds (0: never written by this run; -1: a write failed, content unknown). Verify mode only. */
    int generation(long block) {
        return generation[(int) block];
    }

    /** A request on {@code block} finished; a successful write makes {@code writtenGeneration} current. */
    void finished(long block, boolean write, boolean ok, int writtenGeneration) {
        if (busy != null) {
            busy[(int) block] = false;
            if (write) {
                generation[(int) block] = ok ? writtenGeneration : -1;
            }
        }
    }
}
