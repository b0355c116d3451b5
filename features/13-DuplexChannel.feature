Feature: DuplexChannel request/response
  A duplex channel CH is two ordinary buffers (protocol.md §10): the server creates and reads
  CH_request, the client creates and reads CH_response. The server answers requests one at a
  time, one response each, so response N carries the sequence of request N. Payloads follow
  protocol.md §11.3: "Request {i}" texts, i % 256 patterns (after an 8-byte timestamp for
  "sends request with size"), echo, delay, XOR and doubling handlers. The suite's client sizes
  its response ring like the channel's request ring instead of the fixed 256 MiB of the other
  implementations' clients (any size is valid on the wire); only then can 13.6 fill it.

  Background:

  Scenario: Test 13.1 - Basic Request-Response
    Given the 'server' process creates immutable duplex channel 'test-duplex-basic' with metadata size '4096' and payload size '1048576'
    And the 'server' process starts echo handler
    When the 'client' process creates duplex channel client 'test-duplex-basic'
    And the 'client' process sends request with size '1'
    Then response should match request with size '1'
    When the 'client' process sends request with size '1024'
    Then response should match request with size '1024'
    When the 'client' process sends request with size '102400'
    Then response should match request with size '102400'

  Scenario: Test 13.2 - Request-Response Order Preservation
    Given the 'server' process creates immutable duplex channel 'test-duplex-order' with default config
    And the 'server' process starts echo handler
    When the 'client' process creates duplex channel client 'test-duplex-order'
    And the 'client' process sends '10' requests sequentially
    Then the 'client' process receives '10' responses in order
    And responses should match requests by content
    And no responses should be lost or duplicated

  Scenario: Test 13.3 - Concurrent Client Operations
    Given the 'server' process creates immutable duplex channel 'test-duplex-concurrent' with default config
    And the 'server' process starts echo handler
    When the 'client' process creates duplex channel client 'test-duplex-concurrent'
    And the 'client' process sends '20' requests from single thread
    Then the 'client' process receives exactly '20' responses
    And all '20' responses match their requests

  Scenario: Test 13.4 - Server Processing Mode SingleThread
    # SingleThread handles one request at a time, so three requests of 100 ms each cannot all
    # be answered in less than 300 ms: a lower bound, safe on a busy machine.
    Given the 'server' process creates immutable duplex channel 'test-duplex-singlethread' with processing mode 'SingleThread'
    And the 'server' process starts handler with '100' ms processing time
    When the 'client' process creates duplex channel client 'test-duplex-singlethread'
    And the 'client' process sends '3' requests sequentially
    And the 'client' process measures total response time
    Then total time should be at least '300' ms
    And responses should arrive in order

  Scenario: Test 13.5 - Server Death During Processing
    # The handler "kills" the server 100 ms into the request. In a single process it cannot
    # really die: the server abandons its request buffer and its response writer with a dead
    # PID in both control blocks, exactly what a killed server leaves behind, and writes nothing
    # more. The client's receive then reports the dead response writer when its wait ends.
    Given the 'server' process creates immutable duplex channel 'test-duplex-server-death' with default config
    And the 'server' process starts handler that crashes after '100' ms
    When the 'client' process creates duplex channel client 'test-duplex-server-death'
    And the 'client' process sends request of '1024' bytes
    Then the 'server' process simulates crash during processing
    When the 'client' process waits for response with timeout '5' seconds
    Then the 'client' process should detect server death
    And an appropriate exception should be thrown

  @diverges
  Scenario: Test 13.6 - Buffer Full on Response Channel
    # Diverges: a 16 KiB channel and two requests. In the shared scenario one 4 KiB request on
    # a 10 KiB channel gets one 8 KiB response, which fits any response ring (the other
    # implementations' clients make theirs 256 MiB), so no write could block. Here the client's response ring
    # mirrors the 16 KiB request ring and two 4 KiB requests are sent: the first 8 KiB
    # response leaves 8176 free bytes, too few for the second (8192 + 16-byte header), whose
    # write blocks until the client reads the first.
    Given the 'server' process creates immutable duplex channel 'test-duplex-full' with metadata size '4096' and payload size '16384'
    And the 'server' process starts handler that doubles request size
    When the 'client' process creates duplex channel client 'test-duplex-full'
    And the 'client' process sends request with size '4096'
    And the 'client' process sends request with size '4096'
    And the 'client' process does not read responses
    Then the 'server' process attempts to send response of '8192' bytes
    And the 'server' process should block on response write
    When the 'client' process reads one response
    Then the 'server' process should unblock and complete write

  Scenario: Test 13.7 - Zero-Copy Client Operations
    # "No memory allocations" is counted: the runner installs a counting global allocator, and
    # the acquire, fill and commit calls must allocate nothing on the sending thread.
    Given the 'server' process creates immutable duplex channel 'test-duplex-zerocopy' with default config
    And the 'server' process starts echo handler
    When the 'client' process creates duplex channel client 'test-duplex-zerocopy'
    And the 'client' process acquires zero-copy request buffer of size '4096'
    And the 'client' process fills buffer with test pattern
    And the 'client' process commits request
    Then response should contain same test pattern
    And no memory allocations in send path

  Scenario: Test 13.8 - Immutable Server Handler Types
    # The last two steps are no-ops upstream. Here they check what can be observed: after the
    # handler ran, its request frame still holds exactly the bytes the client wrote, and the
    # response is new data in the response ring, not the request changed in place.
    Given the 'server' process creates immutable duplex channel 'test-duplex-immutable' with default config
    And the 'server' process starts handler that implements XOR with key '0xFF'
    When the 'client' process creates duplex channel client 'test-duplex-immutable'
    And the 'client' process sends '10240' byte frame with test pattern
    Then response should contain XOR transformed data
    And the server handler receives immutable request frame
    And the server handler returns new response data

  Scenario: Test 13.9 - Client Death During Response Wait
    # The client "dies" 1 s into the 2 s handler: it abandons its request writer and response
    # buffer with a dead PID (as a killed process would). A write to a killed client still
    # succeeds while its response ring has room (every implementation, protocol.md §10.5), so
    # the server detects the death as it writes: the write fails if the buffer was closed,
    # otherwise the server finds the client's request writer dead right after the write and
    # drops that client. It keeps serving: a new client on the same channel gets its answer.
    Given the 'server' process creates immutable duplex channel 'test-duplex-client-death' with default config
    And the 'server' process starts handler with '2' second processing delay
    When the 'client' process creates duplex channel client 'test-duplex-client-death'
    And the 'client' process sends request
    And the 'client' process simulates crash after '1' second
    Then the 'server' process completes processing after '2' seconds
    And the 'server' process attempts to send response
    And the 'server' process detects client death when writing
    And the 'server' process continues processing other requests

  @diverges
  Scenario: Test 13.10 - Channel Cleanup on Dispose
    # Diverges in the handler. With the shared scenario's instant echo handler all five requests are answered before the dispose and
    # nothing would be pending. A 500 ms handler leaves requests 4 and 5 unanswered when the
    # server is disposed after the third response (a graceful stop may still finish the request
    # in hand; the last one is never answered). "All shared memory" is the whole channel: the
    # server's request buffer is gone after its dispose, the client's response buffer once the
    # client, done with the channel, is disposed too. The new server's creation reaches the
    # client process under Harmony (steps.md §0.2); it reuses the name and serves on it.
    Given the 'server' process creates immutable duplex channel 'test-duplex-cleanup' with default config
    And the 'server' process starts handler with '500' ms processing time
    When the 'client' process creates duplex channel client 'test-duplex-cleanup'
    And the 'client' process sends '5' requests
    And the 'client' process receives '3' responses
    Then the 'server' process disposes server while '2' responses pending
    When the 'client' process attempts to receive pending responses
    Then the 'client' process should receive exception on pending
    And all shared memory should be cleaned up
    When a new 'server' process creates immutable duplex channel 'test-duplex-cleanup'
    Then the new server should reuse same channel name successfully
