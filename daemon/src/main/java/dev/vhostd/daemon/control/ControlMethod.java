package dev.vhostd.daemon.control;

/**
 * One control method: its name, the record its parameters decode into, and a small handler that
 * receives them validated.
 */
record ControlMethod<P extends Params>(String name, Class<P> params, Handler<P> handler) {
    @FunctionalInterface
    interface Handler<P> {
        /** Returns the JSON-RPC result (a record, list or map Jackson can write). */
        Object handle(P params) throws Exception;
    }
}
