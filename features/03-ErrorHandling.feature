Feature: Error handling
  Misuse of the metadata block is refused without damage: metadata is written once per buffer
  and must fit its block, and a buffer without a metadata block still carries frames. Metadata
  follows the shared pattern (byte i = i % 256).

  Background:

  Scenario: Test 3.1 - Metadata Write-Once Enforcement
    Given the 'reader' process creates buffer 'test-metadata-once' with metadata size '1024' and payload size '10240'
    When the 'writer' process connects to buffer 'test-metadata-once'
    And the 'writer' process writes metadata with size '500'
    And the 'writer' process writes frame with data 'test'
    And the 'writer' process attempts to write metadata again with size '200'
    Then the 'writer' process verifies the second metadata write should fail
    And the 'reader' process verifies the original metadata should remain unchanged

  Scenario: Test 3.2 - Metadata Size Overflow
    # 2048 bytes plus the 8-byte length prefix exceed the 1024-byte block.
    Given the 'reader' process creates buffer 'test-metadata-overflow' with metadata size '1024' and payload size '10240'
    When the 'writer' process connects to buffer 'test-metadata-overflow'
    And the 'writer' process attempts to write metadata with size '2048'
    Then the 'writer' process verifies the metadata write should fail with size error

  Scenario: Test 3.3 - Zero Metadata Configuration
    Given the 'reader' process creates buffer 'test-no-metadata' with metadata size '0' and payload size '10240'
    When the 'writer' process connects to buffer 'test-no-metadata'
    And the 'writer' process writes frames without metadata
    Then the 'reader' process should read frames successfully
    And the 'reader' process verifies the system should work without metadata
