# PRÁCTICA TCP 2.1, the server, transcribed from the handout (002_e7c0548db0e94e0c.txt).
# Changes, each marked "# added": the address comes from argv (host port; port 0 lets the OS
# choose) instead of ("127.0.0.1",6780), and once listening, the bound address is printed on
# stderr as our servers do, so that it can be started on port 0. Run it with python3 -u
# (unbuffered), or its transcript arrives only when it exits. It opens the files it is asked
# for relative to its current directory.
import datetime
import socket
import sys

MTU = 1024
flag = 0

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.bind((sys.argv[1], int(sys.argv[2])))  # added: was sock.bind(("127.0.0.1",6780))
sock.listen(1)
print("listening on %s:%d (tcp)" % sock.getsockname(), file=sys.stderr)  # added

while True:
    print("Waiting for clients...")
    conn, client_address = sock.accept()
    print("Connection received from client " + str(client_address))
    
    try:
        while True:
            data = str(conn.recv(MTU).decode())
        
            # Adición de la instrucción GET. Se examinan los tres primeros caracteres en busca de la
            # palabra clave, a continuación (suponiendo que se ha dejado un espacio) se obtiene el nombre
            # del fichero pedido por el cliente.
            # Finalmente el script abre el fichero, lee el contenido y lo envía como un string al cliente
            if (data[0:3] == "GET"):
                print("Received GET command from client")
                
                filename = data[4:]
                with open(filename) as f:
                    contents = f.read()
                    conn.sendall(contents.encode())
                    
            elif (data == "BYE"):
                print("Received BYE command from client")
                conn.sendall("Bye".encode())
                flag = 1
                break
                
            elif (data == "TIME"):
                print("Received TIME command from client")
                time = datetime.datetime.now()
                conn.sendall(str(time).encode())
                
            else:
                print("Client issued an unknown command")
                conn.sendall("Command not found".encode())
                 
        if flag == 1:
            conn.close()
            print("Closing connection")
            break
    
    # Adición de excepciones para errores observados
    except ConnectionResetError:
        print("Lost connection")
        break
    except ConnectionAbortedError:
        print("Lost connection")
        break
        
    # En caso de no encontrar el fichero pedido por el cliente, se informa y continua
    # el programa
    except FileNotFoundError:
        print("File requested by client not found")
        conn.sendall("File not found".encode())
        continue
