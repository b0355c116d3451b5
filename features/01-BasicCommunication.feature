Feature: Basic communication between a reader and a writer
  One reader owns a buffer, one writer connects to it; frames and metadata cross in order,
  with back-pressure when the ring is full. Frame data follows the shared test patterns
  (protocol.md §11.1): seeded frames hold byte i = (i + seed) % 256, plain frames i % 256.

  Background:
    Given the test environment is initialized
    And all processes are ready

  Scenario: Test 1.1 - Simple Write-Read Cycle
    Given the 'reader' process creates buffer 'test-basic' with metadata size '1024' and payload size '10240'
    When the 'writer' process connects to buffer 'test-basic'
    And the 'writer' process writes metadata with size '100'
    And the 'writer' process writes frame with size '1024' and sequence '1'
    Then the 'reader' process should read frame with sequence '1' and size '1024'
    And the 'reader' process should validate frame data
    And the 'reader' process signals space available

  Scenario: Test 1.2 - Multiple Frames Sequential
    Given the 'reader' process creates buffer 'test-multi' with metadata size '1024' and payload size '102400'
    When the 'writer' process connects to buffer 'test-multi'
    And the 'writer' process writes frame with sequence '1'
    And the 'writer' process writes frame with sequence '2'
    And the 'writer' process writes frame with sequence '3'
    Then the 'reader' process should read frame with sequence '1';
    And the 'reader' process signals space available
    Then the 'reader' process should read frame with sequence '2';
    And the 'reader' process signals space available
    Then the 'reader' process should read frame with sequence '3';
    And the 'reader' process should verify all frames maintain sequential order

  Scenario: Test 1.3 - Buffer Full Handling
    Given the 'reader' process creates buffer 'test-full' with metadata size '1024' and payload size '10240'
    When the 'writer' process connects to buffer 'test-full'
    And the 'writer' process writes frames until buffer is full
    Then the 'writer' process should experience timeout on next write
    When the 'reader' process reads one frame
    And the 'reader' process signals space available
    Then the 'writer' process should write successfully immediately

  Scenario: Test 1.4 - Zero-Copy Write Operations
    Given the 'reader' process creates buffer 'test-zerocopy' with metadata size '1024' and payload size '102400'
    When the 'writer' process connects to buffer 'test-zerocopy'
    And the 'writer' process requests zero-copy frame of size '4096'
    And the 'writer' process fills zero-copy buffer with test pattern
    And the 'writer' process commits zero-copy frame
    Then the 'reader' process should read frame with size '4096'
    And the 'reader' process should verify frame data matches test pattern

  Scenario: Test 1.5 - Mixed Frame Sizes
    Given the 'reader' process creates buffer 'test-mixed' with metadata size '1024' and payload size '102400'
    When the 'writer' process connects to buffer 'test-mixed'
    And the 'writer' process writes frame with size '100'
    And the 'writer' process writes frame with size '1024'
    And the 'writer' process writes frame with size '10240'
    And the 'writer' process writes frame with size '1'
    Then the 'reader' process should read 4 frames with sizes '100,1024,10240,1' in order

  Scenario: Test 1.6 - Slow Reader With Fast Writer
    # About 9 frames fit in the ring; the writer works in the background while the reader lags.
    Given the 'reader' process creates buffer 'test-slow' with metadata size '64' and payload size '10240'
    When the 'writer' process connects to buffer 'test-slow'
    And the 'writer' process writes '20' frames of size '1024' as fast as possible
    And the 'reader' process reads frames with '100' ms delay between each read
    Then the 'reader' process should have read '20' frames
    And the 'reader' process should verify all frames have sequential sequence numbers starting from '1'
    And no sequence errors should have occurred

  Scenario: Test 1.7 - Slow Reader With Fast Writer High Volume
    # Thousands of wrap-arounds under full contention: the regression test for the writer's
    # wrap-around free-space rule (protocol.md §12.1).
    Given the 'reader' process creates buffer 'test-volume' with metadata size '64' and payload size '10240'
    When the 'writer' process connects to buffer 'test-volume'
    And the 'writer' process writes '5000' frames of size '1024' as fast as possible
    And the 'reader' process reads frames with '0' ms delay between each read
    Then the 'reader' process should have read '5000' frames
    And the 'reader' process should verify all frames have sequential sequence numbers starting from '1'
    And no sequence errors should have occurred
