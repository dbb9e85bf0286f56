"""Flower's NIID-Bench partitions, computed by numpy itself, for PartitionerNumpyTests.

Usage: python3 numpy_reference_partitions.py LABELS_FILE CLIENTS SEED
LABELS_FILE holds one uint8 label per sample. Prints one line per partition and client:
"<partition> <client> <comma-separated sample indices in the order assigned>".

The three algorithms are those of Flower's NIID-Bench baseline as it produced its published
table (dataset_preparation.py with numpy.random.RandomState(seed)), restated here so that the
C# partitioners can be checked against numpy's own random streams.
"""
import sys

import numpy as np


def iid(n_samples, n_clients, seed):
    order = np.random.RandomState(seed).choice(n_samples, n_samples, replace=False)
    return [part.tolist() for part in np.array_split(order, n_clients)]


def dirichlet(labels, n_clients, beta, seed, min_size=10):
    rs = np.random.RandomState(seed)
    n_classes = len(set(labels.tolist()))
    smallest = 0
    while smallest < min_size:
        clients = [[] for _ in range(n_clients)]
        for k in range(n_classes):
            idx_k = np.where(labels == k)[0]
            rs.shuffle(idx_k)
            p = rs.dirichlet(np.repeat(beta, n_clients))
            p = np.array([q * (len(c) < len(labels) / n_clients) for q, c in zip(p, clients)])
            p = p / p.sum()
            cuts = (np.cumsum(p) * len(idx_k)).astype(int)[:-1]
            clients = [c + part.tolist() for c, part in zip(clients, np.split(idx_k, cuts))]
            smallest = min(len(c) for c in clients)
    return clients


def classes_per_client(labels, n_clients, k, seed):
    rs = np.random.RandomState(seed)
    n_classes = len(set(labels.tolist()))
    times = [0] * n_classes
    holds = []
    for i in range(n_clients):
        mine = [i % n_classes]
        times[i % n_classes] += 1
        while len(mine) < k:
            c = rs.randint(0, n_classes)
            if c not in mine:
                mine.append(c)
                times[c] += 1
        holds.append(mine)
    clients = [[] for _ in range(n_clients)]
    for c in range(n_classes):
        idx_c = np.where(labels == c)[0]
        rs.shuffle(idx_c)
        parts = np.array_split(idx_c, times[c])
        used = 0
        for j in range(n_clients):
            if c in holds[j]:
                clients[j] += parts[used].tolist()
                used += 1
    return clients


def main():
    labels = np.fromfile(sys.argv[1], dtype=np.uint8).astype(np.int64)
    n_clients, seed = int(sys.argv[2]), int(sys.argv[3])
    partitions = {
        "iid": iid(len(labels), n_clients, seed),
        "dirichlet:0.5": dirichlet(labels, n_clients, 0.5, seed),
        "classes:2": classes_per_client(labels, n_clients, 2, seed),
        "classes:3": classes_per_client(labels, n_clients, 3, seed),
    }
    for name, clients in partitions.items():
        for j, client in enumerate(clients):
            print(name, j, ",".join(str(i) for i in client))


main()
