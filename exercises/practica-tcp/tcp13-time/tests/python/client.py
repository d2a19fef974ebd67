# PRÁCTICA TCP 1.3, a client in the handout's style. The handout shows only the server; this
# client is ours, written the way the handout writes its programs (sendall, one recv(1024)
# taken as one answer), doing what the handout asks: QUERIES time queries, the difference
# between the server's time and the local time kept in a list, then the total time and the
# average difference. It parses the time as the handout's comment suggests (back into a
# datetime), with strptime and "%f", which fails on the 19-character str(datetime) that
# Python sends when the microseconds are 0.
# Usage: python3 client.py HOST PORT [QUERIES [exit]]   ("exit": send EXIT at the end)
import datetime
import socket
import sys
import time

host, port = sys.argv[1], int(sys.argv[2])
queries = int(sys.argv[3]) if len(sys.argv) > 3 else 100000
send_exit = len(sys.argv) > 4 and sys.argv[4] == "exit"

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.connect((host, port))

differences = []
start = time.time()
for i in range(queries):
    sock.sendall("TIME".encode())
    data = sock.recv(1024).decode()
    server_time = datetime.datetime.strptime(data, "%Y-%m-%d %H:%M:%S.%f")
    differences.append((server_time - datetime.datetime.now()).total_seconds())
total = time.time() - start

print("%d TIME queries in %.3f s: %.0f queries/s" % (queries, total, queries / total))
print("Average difference, server - local: %+.6f s" % (sum(differences) / len(differences)))

if send_exit:
    sock.sendall("EXIT".encode())
    print("Server> " + sock.recv(1024).decode())
sock.close()
