package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/thanos-io/objstore"
	"github.com/thanos-io/objstore/providers/filesystem"
)

// TempPrefix starts the name of the temporary file an atomic FILESYSTEM upload
// writes next to its target before renaming it into place. Listings skip such
// names, and no block or index key starts with a dot, so a temporary file left
// by a crash is never read as an object.
const TempPrefix = ".tmp-"

// IsTempName reports whether an object name is a temporary upload file (one a
// crashed writer may have left behind), not an object.
func IsTempName(name string) bool {
	return !strings.HasSuffix(name, objstore.DirDelim) && strings.HasPrefix(path.Base(name), TempPrefix)
}

// NewFilesystemBucket returns a FILESYSTEM bucket rooted at dir whose uploads
// are atomic (see AtomicFilesystem).
func NewFilesystemBucket(dir string) (objstore.Bucket, error) {
	bkt, err := filesystem.NewBucket(dir)
	if err != nil {
		return nil, err
	}
	return AtomicFilesystem(bkt, dir)
}

// AtomicFilesystem wraps a FILESYSTEM bucket rooted at dir (the directory it was
// built with) so that an Upload never leaves a partial object: the body goes to
// a temporary file in the target's directory (named TempPrefix…), which is
// fsynced and then renamed over the target, and the directory is fsynced. A
// crash or a failing body leaves the previous object intact; a reader sees the
// old object or the new one, never a truncated or empty one. Listings skip
// temporary files. Every other operation is the wrapped bucket's.
//
// objstore's filesystem provider writes the target in place (os.Create, then a
// copy), so a process killed mid-write left a 0-byte or truncated index.json
// that every later reader failed on. Object stores need no such wrapper: a PUT
// is atomic there.
func AtomicFilesystem(bkt objstore.Bucket, dir string) (objstore.Bucket, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return &atomicFSBucket{Bucket: bkt, root: root}, nil
}

type atomicFSBucket struct {
	objstore.Bucket
	root string
}

func (b *atomicFSBucket) Upload(ctx context.Context, name string, r io.Reader, _ ...objstore.ObjectUploadOption) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	if IsTempName(name) {
		return fmt.Errorf("upload %s: names starting with %q are reserved for temporary files", name, TempPrefix)
	}
	file := filepath.Join(b.root, filepath.FromSlash(name))
	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, os.ModePerm); err != nil {
		return err
	}
	f, tmp, err := createTemp(dir, filepath.Base(file))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err := io.Copy(f, r); err != nil {
		return fmt.Errorf("copy to %s: %w", file, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Rename(tmp, file); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// createTemp creates a new file TempPrefix+base+"-"+random in dir with the
// permissions os.Create gives (0666 less the umask), which os.CreateTemp's
// 0600 would not.
func createTemp(dir, base string) (*os.File, string, error) {
	var buf [8]byte
	for range 10 {
		_, _ = rand.Read(buf[:])
		name := filepath.Join(dir, TempPrefix+base+"-"+hex.EncodeToString(buf[:]))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		return f, name, err
	}
	return nil, "", fmt.Errorf("create temporary file for %s in %s: too many collisions", base, dir)
}

// syncDir makes a rename in dir durable. Best effort: some platforms and file
// systems cannot fsync a directory, and the rename itself is already atomic.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

func (b *atomicFSBucket) Iter(ctx context.Context, dir string, f func(string) error, options ...objstore.IterOption) error {
	return b.Bucket.Iter(ctx, dir, func(name string) error {
		if IsTempName(name) {
			return nil
		}
		return f(name)
	}, options...)
}

func (b *atomicFSBucket) IterWithAttributes(ctx context.Context, dir string, f func(objstore.IterObjectAttributes) error, options ...objstore.IterOption) error {
	return b.Bucket.IterWithAttributes(ctx, dir, func(attrs objstore.IterObjectAttributes) error {
		if IsTempName(attrs.Name) {
			return nil
		}
		return f(attrs)
	}, options...)
}

// RemoveStaleTempFiles deletes the temporary upload files (TempPrefix…)
// under a FILESYSTEM bucket's root directory that were last modified before
// before, and returns their paths relative to root. A writer killed
// mid-upload leaves one behind; listings skip them, so nothing else ever
// removes them. Only old files are touched: a younger one may belong to an
// upload still running, whose rename it would break.
func RemoveStaleTempFiles(ctx context.Context, root string, before time.Time) ([]string, error) {
	var removed []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), TempPrefix) {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // renamed or removed meanwhile
		}
		if err != nil {
			return err
		}
		if !info.ModTime().Before(before) {
			return nil
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		removed = append(removed, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("remove stale temporary files under %s: %w", root, err)
	}
	return removed, nil
}
