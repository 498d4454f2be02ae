package dev.vhostd.protocol.frontend;

/** vhost-user "vring state description": a ring index and a number (size, base index or enable flag). */
public record VringState(int index, int num) {}
