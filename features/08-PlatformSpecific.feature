@platform-specific
Feature: Platform specific behaviour
  On Linux a buffer is a file in /dev/shm, two glibc semaphores beside it and a lock file in
  /tmp/zerobuffer; all of them go away when the reader closes. Names are file names (no '/',
  no NUL, at most 245 bytes), and a reader replaces what a dead reader left behind.

  @linux
  Scenario: Test 8.1 - Linux Shared Memory Verification
    Given the platform is 'linux'
    And the 'reader' process creates buffer 'test-linux-shm' with default config
    Then verify shared memory entry exists in '/dev/shm/'
    And verify proper named semaphores created
    And test with buffer names containing special characters
    When gracefully shutdown
    Then verify proper cleanup in '/dev/shm/'

  @windows
  Scenario: Test 8.2 - Windows Named Objects Verification
    Given the platform is 'windows'
    And the 'reader' process creates buffer 'test-windows-objects' with default config
    Then verify CreateFileMapping with proper naming
    And test Global vs Local namespace for different contexts
    And verify semaphore limits and max count
    When test across different user sessions
    Then verify proper isolation or sharing as expected

  Scenario: Test 8.3 - Cross-Platform Name Compatibility
    # One host cannot run both OSes: the Linux rules are checked by creating the objects, the
    # Windows rules (no backslash, at most 260 characters with the namespace prefix) by rule.
    Given the 'reader' process creates buffer 'test-cross-platform' with default config
    Then verify name contains only alphanumeric and dash
    And same name rules work on both platforms
    When test maximum name length
    Then both platforms should handle it correctly

  Scenario: Test 8.4 - Stale Resource Cleanup
    # The stale objects: an unlocked lock file with content (a reader never writes its own), a
    # segment whose reader PID is dead and which is smaller than the default, and semaphores
    # holding leftover tokens. Each must be replaced, not reused.
    Given manually create stale lock file for 'stale-test'
    And create orphaned shared memory for 'stale-test'
    And create orphaned semaphores for 'stale-test'
    When the 'reader' process attempts to create buffer 'stale-test'
    Then the stale resources should be detected
    And the old resources should be cleaned up
    And the new buffer should be created successfully
