// The sync layer's own failures: a listing or directory that cannot be trusted.
#pragma once

#include <stdexcept>

namespace dirsync::sync {

class SyncError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The full sync was listed completely but held back before the merge: it would delete too much.
class HeldSync : public SyncError {
public:
    using SyncError::SyncError;
};

} // namespace dirsync::sync
