package dev.vhostd.daemon.disk;

import dev.vhostd.daemon.metrics.VhostdMetrics;
import dev.vhostd.protocol.connection.Readiness;
import dev.vhostd.protocol.poll.PollerGroup;

/**
 * What all disks of a daemon share: the poller pool their rings run on, the readiness thread their
 * accept loops and connections wait in, and the metrics registry.
 */
public record DiskRuntime(PollerGroup pollers, Readiness readiness, VhostdMetrics metrics) {}
