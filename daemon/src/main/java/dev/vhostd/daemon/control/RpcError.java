package dev.vhostd.daemon.control;

/** A JSON-RPC 2.0 error object (section 5.1): what the client receives instead of a result. */
record RpcError(int code, String message) {
    static final int PARSE_ERROR = -32700;
    static final int INVALID_REQUEST = -32600;
    static final int METHOD_NOT_FOUND = -32601;
    static final int INVALID_PARAMS = -32602;
    static final int INTERNAL_ERROR = -32603;

    /** Thrown by decoding and dispatch; the server turns it into an error response. */
    static final class Failure extends Exception {
        private final RpcError error;

        Failure(int code, String message) {
            super(message, null, false, false);
            this.error = new RpcError(code, message);
        }

        RpcError error() {
            return error;
        }
    }
}
